"""Keywords end to end: a client's text arrives, consent changes, the reply is shown or sent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.carriers.keyword_replies import (
    HELP_REPLY,
    OPT_IN_REPLY,
    OPT_OUT_REPLY,
)
from messagecenter.clock import FrozenClock
from messagecenter.consent import queries as consent_queries
from messagecenter.consent.service import is_opted_out
from messagecenter.context import AppContext
from messagecenter.conversations import queries
from messagecenter.errors import ClientUnsubscribed, InvalidInput
from messagecenter.models import ApiKey, Business, ConsentRecord, Message
from messagecenter.notifications.catalogue import TYPES
from messagecenter.notifications.service import save_template
from messagecenter.sending.compose import Sender, send_message
from tests.factories import SetUp, make_business, make_client, text_from

MARIA = "+12125550142"
STRANGER = "+12125550177"


# ---------------------------------------------------------------------------- helpers


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now())


def used(session: Session, business: Business, at: datetime) -> int:
    return usage.summarize(session, business, at).used


def records(session: Session, setup: SetUp, phone: str = MARIA) -> list[ConsentRecord]:
    return consent_queries.consent_history(session, setup.business.id, phone)


def thread(session: Session, setup: SetUp, phone: str = MARIA) -> list[Message]:
    session.expire_all()
    conversation = queries.conversation_for_phone(session, setup.business.id, phone)
    assert conversation is not None
    return queries.list_messages(
        session, setup.business.id, conversation.id, limit=200, before_id=None
    )


def message_count(session: Session, business: Business) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Message).where(Message.business_id == business.id)
        )
        or 0
    )


def api_sender(session: Session, business: Business) -> Sender:
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.business_id == business.id))
    assert key_id is not None
    return Sender.api_key(key_id)


def app_answer(setup: SetUp, type_name: str) -> str:
    """The app's default answer (a keyword type's default wording, for this business)."""
    return TYPES[type_name].default_body.replace("[BusinessName]", setup.business.name)


def app_answers_keywords(session: Session, setup: SetUp) -> None:
    setup.number.carrier_handles_keywords = False
    session.flush()


# ---------------------------------------------------------------------------- opting out


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "STOP"),
        ("Stop.", "STOP"),
        (" STOP ", "STOP"),
        ("stop!!\r\n", "STOP"),
        ("stopall", "STOPALL"),
        ("Unsubscribe!", "UNSUBSCRIBE"),
        ("cancel", "CANCEL"),
        ("end", "END"),
        ("quit", "QUIT"),
        ("revoke", "REVOKE"),
        ("optout", "OPTOUT"),
        ("STOP ALL", "STOP ALL"),
        ("Stop all!", "STOP ALL"),
        ("Opt-out", "OPT OUT"),
    ],
)
def test_stop_keywords_opt_out_and_are_recorded(
    session: Session, clock: FrozenClock, shop: SetUp, body: str, keyword: str
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)

    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is True
    (record,) = records(session, shop)
    assert record.action == "opt_out"
    assert record.source == "keyword"
    assert record.keyword == keyword
    assert record.sms_number == shop.number.phone_number
    assert record.message_id == outcome.message_id
    assert record.created_at == clock.now()
    with pytest.raises(ClientUnsubscribed):
        send_message(
            session,
            shop.business,
            body="Still there?",
            sender=api_sender(session, shop.business),
            client=client,
            at=clock.now(),
        )


@pytest.mark.parametrize(
    "body", ["stop by tomorrow?", "Please stop", "STOP STOP", "don't stop", "stopp", "end of day"]
)
def test_a_message_that_merely_contains_a_keyword_changes_nothing(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is False
    assert records(session, shop) == []
    assert outcome.replies == []
    assert [m.body for m in thread(session, shop)] == [body]


def test_a_replayed_stop_webhook_records_once_and_answers_once(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, MARIA, "STOP", clock.now(), sid="SMstop1")
    again = text_from(session, shop.number, MARIA, "STOP", clock.now(), sid="SMstop1")

    assert again.duplicate is True and again.replies == []
    assert len(records(session, shop)) == 1
    assert [m.sender_type for m in thread(session, shop)] == ["client", "carrier"]


# ---------------------------------------------------------------------------- opting back in


@pytest.mark.parametrize(
    ("body", "keyword"), [("START", "START"), ("unstop", "UNSTOP"), ("Yes!", "YES")]
)
def test_start_unstop_or_yes_resubscribe_an_opted_out_client(
    session: Session, clock: FrozenClock, shop: SetUp, body: str, keyword: str
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    clock.advance(timedelta(days=2))

    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is False
    assert [(r.action, r.keyword) for r in records(session, shop)] == [
        ("opt_out", "STOP"),
        ("opt_in", keyword),
    ]
    assert records(session, shop)[1].message_id == outcome.message_id
    assert thread(session, shop)[-1].body == OPT_IN_REPLY
    message = send_message(
        session,
        shop.business,
        body="Welcome back!",
        sender=api_sender(session, shop.business),
        client=client,
        at=clock.now(),
    )
    assert message.status == "queued"


@pytest.mark.parametrize("body", ["YES", "yes.", "Start", "UNSTOP"])
def test_yes_or_start_from_a_subscribed_client_is_ordinary_text(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert records(session, shop) == []
    assert consent_queries.consent_for(session, shop.business.id, MARIA) is None
    assert outcome.replies == []
    assert [(m.sender_type, m.body) for m in thread(session, shop)] == [("client", body)]
    assert used(session, shop.business, clock.now()) == 1


@pytest.fixture
def toll_free_shop(session: Session, shop: SetUp) -> SetUp:
    """The shop texting from a toll-free number (numbers carry no type: the E.164 says)."""
    shop.number.phone_number = "+18005550100"
    session.flush()
    return shop


def test_yes_on_a_toll_free_number_does_not_opt_back_in_but_start_does(
    session: Session, clock: FrozenClock, toll_free_shop: SetUp
) -> None:
    shop = toll_free_shop
    text_from(session, shop.number, MARIA, "STOP", clock.now())

    yes = text_from(session, shop.number, MARIA, "Yes!", clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is True
    assert yes.replies == []  # ordinary text: nobody answers it
    assert [r.keyword for r in records(session, shop)] == ["STOP"]
    start = text_from(session, shop.number, MARIA, "START", clock.now())
    assert is_opted_out(session, shop.business.id, MARIA) is False
    assert [r.keyword for r in records(session, shop)] == ["STOP", "START"]
    assert len(start.replies) == 1


# ---------------------------------------------------------------------------- Canada

TORONTO_CLIENT = "+14165550142"


@pytest.fixture
def canadian_shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(
        session,
        context.carrier,
        clock.now(),
        country="CA",
        timezone="America/Toronto",
        business_phone="+14165550100",
    )


@pytest.mark.parametrize(("body", "keyword"), [("Arrêt.", "ARRÊT"), ("arret", "ARRET")])
def test_arret_opts_a_canadian_businesss_client_out(
    session: Session, clock: FrozenClock, canadian_shop: SetUp, body: str, keyword: str
) -> None:
    shop = canadian_shop
    outcome = text_from(session, shop.number, TORONTO_CLIENT, body, clock.now())

    assert is_opted_out(session, shop.business.id, TORONTO_CLIENT) is True
    (record,) = records(session, shop, TORONTO_CLIENT)
    assert (record.action, record.keyword, record.message_id) == (
        "opt_out",
        keyword,
        outcome.message_id,
    )
    assert [m.body for m in thread(session, shop, TORONTO_CLIENT)] == [body, OPT_OUT_REPLY]


def test_aide_is_help_for_a_canadian_business(
    session: Session, clock: FrozenClock, canadian_shop: SetUp
) -> None:
    shop = canadian_shop
    text_from(session, shop.number, TORONTO_CLIENT, "Aide", clock.now())

    assert records(session, shop, TORONTO_CLIENT) == []
    assert [m.body for m in thread(session, shop, TORONTO_CLIENT)] == ["Aide", HELP_REPLY]


@pytest.mark.parametrize("body", ["ARRÊT", "arret", "AIDE"])
def test_french_keywords_are_ordinary_text_for_a_us_business(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is False
    assert records(session, shop) == []
    assert outcome.replies == []
    assert [m.body for m in thread(session, shop)] == [body]


def test_through_the_simulated_carrier_arret_is_answered_once(
    session: Session, context: AppContext, clock: FrozenClock, canadian_shop: SetUp
) -> None:
    shop = canadian_shop
    session.commit()
    simulator = context.simulator
    assert simulator is not None

    simulator.receive_from_phone(TORONTO_CLIENT, shop.number.phone_number, "Arrêt")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text

    assert is_opted_out(session, shop.business.id, TORONTO_CLIENT) is True
    assert [m.sender_type for m in thread(session, shop, TORONTO_CLIENT)] == ["client", "carrier"]


# ---------------------------------------------------------------------------- help


@pytest.mark.parametrize("body", ["HELP", "info?", " Help "])
def test_help_changes_nothing_but_is_answered(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    assert records(session, shop) == []
    assert is_opted_out(session, shop.business.id, MARIA) is False
    assert len(outcome.replies) == 1
    reply = thread(session, shop)[-1]
    assert reply.id == outcome.replies[0]
    assert (reply.direction, reply.sender_type, reply.body) == ("outbound", "carrier", HELP_REPLY)


def test_help_from_an_opted_out_client_keeps_them_opted_out(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    text_from(session, shop.number, MARIA, "HELP", clock.now())

    assert is_opted_out(session, shop.business.id, MARIA) is True
    assert len(records(session, shop)) == 1


# ---------------------------------------------------------------------------- who answers


@pytest.mark.parametrize(("body", "expected"), [("STOP", OPT_OUT_REPLY), ("HELP", HELP_REPLY)])
def test_where_the_carrier_answers_its_reply_is_shown_and_nothing_is_sent(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, body: str, expected: str
) -> None:
    assert shop.number.carrier_handles_keywords is True

    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    client_text, reply = thread(session, shop)
    assert client_text.body == body
    assert outcome.replies == [reply.id]
    assert (reply.direction, reply.sender_type, reply.body) == ("outbound", "carrier", expected)
    assert reply.units == 0
    assert reply.dispatch_state == "none"
    assert (reply.from_phone, reply.to_phone) == (shop.number.phone_number, MARIA)
    assert used(session, shop.business, clock.now()) == 1  # the client's text only
    session.commit()
    assert context.dispatcher.run_once() == 0
    simulator = context.simulator
    assert simulator is not None and simulator.sent_count() == 0


def test_start_where_the_carrier_answers_shows_its_reply_and_sends_nothing(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    text_from(session, shop.number, MARIA, "START", clock.now())

    replies = [m for m in thread(session, shop) if m.direction == "outbound"]
    assert [(m.sender_type, m.body, m.units) for m in replies] == [
        ("carrier", OPT_OUT_REPLY, 0),
        ("carrier", OPT_IN_REPLY, 0),
    ]
    assert used(session, shop.business, clock.now()) == 2


def test_through_the_simulated_carrier_stop_is_answered_once(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    session.commit()
    simulator = context.simulator
    assert simulator is not None

    simulator.receive_from_phone(MARIA, shop.number.phone_number, "Stop.")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text

    assert is_opted_out(session, shop.business.id, MARIA) is True
    assert [m.sender_type for m in thread(session, shop)] == ["client", "carrier"]
    assert context.dispatcher.run_once() == 0
    assert simulator.sent_count() == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "Harbor: you're unsubscribed. Text START to come back."),
        ("START", TYPES["opt_in_confirmation"].default_body),
        ("Info", "Studio 1 - call 212-555-0100, 7am-9pm. Reply STOP to opt out."),
    ],
)
def test_where_the_carrier_does_not_answer_the_app_sends_the_business_s_own_wording(
    session: Session, clock: FrozenClock, shop: SetUp, body: str, expected: str
) -> None:
    app_answers_keywords(session, shop)
    for type_name, wording in (
        ("opt_out_confirmation", "Harbor: you're unsubscribed. Text START to come back."),
        ("help", "Studio 1 - call 212-555-0100, 7am-9pm. Reply STOP to opt out."),
    ):
        save_template(
            session,
            shop.business,
            type_name,
            enabled=None,
            body=wording,
            reset_body=False,
            at=clock.now(),
        )
    before = 0
    if body == "START":  # an opt-in is answered only where there was an opt-out
        text_from(session, shop.number, MARIA, "STOP", clock.now())
        expected = expected.replace("[BusinessName]", shop.business.name)
        before = 2

    outcome = text_from(session, shop.number, MARIA, body, clock.now())

    client_text, reply = thread(session, shop)[-2:]
    assert (client_text.sender_type, client_text.body) == ("client", body)
    assert outcome.replies == [reply.id]
    assert (reply.direction, reply.sender_type) == ("outbound", "automated")
    assert (reply.status, reply.dispatch_state) == ("queued", "pending")
    assert reply.units == 1
    assert used(session, shop.business, clock.now()) == before + 2
    assert reply.body == expected


def test_the_apps_default_answers_name_the_business_and_its_phone(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    app_answers_keywords(session, shop)

    text_from(session, shop.number, MARIA, "help", clock.now())

    reply = thread(session, shop)[-1]
    assert reply.sender_type == "automated"
    assert shop.business.business_phone == "+12125550100"
    assert (
        reply.body == f"{shop.business.name}: for help call (212) 555-0100. Reply STOP to opt out."
    )
    assert "[" not in reply.body


def test_a_keyword_answer_cannot_be_switched_off(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    with pytest.raises(InvalidInput, match="cannot be switched off"):
        save_template(
            session, shop.business, "help", enabled=False, body=None, reset_body=False,
            at=clock.now(),
        )  # fmt: skip


def test_the_apps_keyword_replies_go_out_past_a_hard_stop_and_are_counted(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1, policy="hard_stop")
    app_answers_keywords(session, setup)
    text_from(session, setup.number, MARIA, "hello", clock.now())  # the allowance is used up

    text_from(session, setup.number, MARIA, "STOP", clock.now())
    text_from(session, setup.number, MARIA, "START", clock.now())

    replies = [m for m in thread(session, setup) if m.direction == "outbound"]
    assert [(m.sender_type, m.body, m.dispatch_state) for m in replies] == [
        ("automated", app_answer(setup, "opt_out_confirmation"), "pending"),
        ("automated", app_answer(setup, "opt_in_confirmation"), "pending"),
    ]
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.inbound_units, summary.outbound_units) == (5, 3, 2)


def test_where_the_app_answers_the_dispatcher_sends_the_confirmation(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    app_answers_keywords(session, shop)
    text_from(session, shop.number, MARIA, "help", clock.now())
    session.commit()
    simulator = context.simulator
    assert simulator is not None

    assert context.dispatcher.run_once() == 1
    assert simulator.sent_count() == 1
    reply = thread(session, shop)[-1]
    assert reply.dispatch_state == "accepted"


def test_where_the_carrier_does_not_answer_its_stop_confirmation_is_not_refused(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    """The setting says the carrier does not handle keywords, so the app confirms the opt-out
    itself; the (simulated) carrier must then deliver that confirmation, not refuse it as a
    text to an unsubscribed recipient (21610)."""
    app_answers_keywords(session, shop)
    session.commit()
    simulator = context.simulator
    assert simulator is not None

    simulator.receive_from_phone(MARIA, shop.number.phone_number, "STOP")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text
    assert context.dispatcher.run_once() == 1

    reply = thread(session, shop)[-1]
    assert (reply.sender_type, reply.body) == (
        "automated",
        app_answer(shop, "opt_out_confirmation"),
    )
    assert reply.error_code is None
    assert reply.dispatch_state == "accepted"
    assert reply.status in ("queued", "sent")


# ---------------------------------------------------------------------------- whose consent


def test_an_opt_out_from_an_unknown_sender_holds_for_a_client_saved_later(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, STRANGER, "STOP", clock.now())
    (record,) = records(session, shop, STRANGER)
    assert record.action == "opt_out"
    clock.advance(timedelta(days=10))

    client = make_client(
        session, shop.business, clock.now(), first_name="Sam", cell_phone="(212) 555-0177"
    )
    assert client.cell_phone == STRANGER
    before = (message_count(session, shop.business), used(session, shop.business, clock.now()))

    with pytest.raises(ClientUnsubscribed) as refused:
        send_message(
            session,
            shop.business,
            body="Welcome, Sam!",
            sender=api_sender(session, shop.business),
            client=client,
            at=clock.now(),
        )

    assert "2026-11-16" in refused.value.message and "STOP" in refused.value.message
    after = (message_count(session, shop.business), used(session, shop.business, clock.now()))
    assert after == before


def test_consent_is_per_business(session: Session, context: AppContext, clock: FrozenClock) -> None:
    a = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    b = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    at_a = make_client(session, a.business, clock.now(), cell_phone=MARIA)
    at_b = make_client(session, b.business, clock.now(), cell_phone=MARIA)

    text_from(session, a.number, MARIA, "STOP", clock.now())

    with pytest.raises(ClientUnsubscribed):
        send_message(
            session,
            a.business,
            body="hi",
            sender=api_sender(session, a.business),
            client=at_a,
            at=clock.now(),
        )
    message = send_message(
        session,
        b.business,
        body="hi",
        sender=api_sender(session, b.business),
        client=at_b,
        at=clock.now(),
    )
    assert message.status == "queued" and message.business_id == b.business.id
    assert records(session, b) == []


def test_a_send_to_an_opted_out_client_writes_nothing(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "unsubscribe", clock.now())
    conversation = queries.conversation_for_phone(session, shop.business.id, MARIA)
    assert conversation is not None
    session.refresh(conversation)
    before = (
        message_count(session, shop.business),
        used(session, shop.business, clock.now()),
        conversation.last_message_preview,
        conversation.unread_count,
        len(records(session, shop)),
    )

    for target in ({"client": client}, {"conversation": conversation}):
        with pytest.raises(ClientUnsubscribed):
            send_message(
                session,
                shop.business,
                body="Last chance!",
                sender=api_sender(session, shop.business),
                at=clock.now(),
                **target,  # type: ignore[arg-type]
            )

    session.refresh(conversation)
    after = (
        message_count(session, shop.business),
        used(session, shop.business, clock.now()),
        conversation.last_message_preview,
        conversation.unread_count,
        len(records(session, shop)),
    )
    assert after == before
