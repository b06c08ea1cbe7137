"""The consent service: state per business and phone, the record of every change, the refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.consent import queries
from messagecenter.consent.service import (
    apply_inbound_keyword,
    consent_summary,
    ensure_may_text,
    is_opted_out,
    set_consent,
)
from messagecenter.context import AppContext
from messagecenter.errors import ClientUnsubscribed
from messagecenter.models.consent import SOURCE_CARRIER_21610, SOURCE_KEYWORD
from messagecenter.sms.keywords import Keyword
from tests.factories import SetUp, make_business, text_from

PHONE = "+12125550142"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now())


def inbound_id(session: Session, setup: SetUp, clock: FrozenClock, body: str = "x") -> int:
    """An inbound message to hang consent records on (ordinary text, so it changes nothing)."""
    message_id = text_from(session, setup.number, PHONE, body, clock.now()).message_id
    assert message_id is not None
    return message_id


def opt_out(
    session: Session, setup: SetUp, clock: FrozenClock, *, source: str = SOURCE_KEYWORD
) -> bool:
    return set_consent(
        session,
        business_id=setup.business.id,
        phone=PHONE,
        opted_out=True,
        source=source,
        keyword="STOP" if source == SOURCE_KEYWORD else None,
        sms_number=setup.number.phone_number,
        message_id=None,
        at=clock.now(),
    )


def test_a_phone_with_no_history_may_be_texted(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    assert is_opted_out(session, shop.business.id, PHONE) is False
    ensure_may_text(session, shop.business.id, PHONE)  # does not raise
    assert consent_summary(None) == {
        "subscribed": True,
        "changed_at": None,
        "keyword": None,
        "source": None,
    }


def test_opting_out_refuses_texts_with_the_date_and_the_keyword(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    assert opt_out(session, shop, clock) is True
    clock.advance(timedelta(days=40))

    assert is_opted_out(session, shop.business.id, PHONE) is True
    with pytest.raises(ClientUnsubscribed) as refused:
        ensure_may_text(session, shop.business.id, PHONE)
    assert refused.value.status_code == 409
    assert refused.value.code == "client_unsubscribed"
    assert "2026-11-16" in refused.value.message
    assert "STOP" in refused.value.message

    state = queries.consent_for(session, shop.business.id, PHONE)
    summary = consent_summary(state)
    assert summary["subscribed"] is False
    assert summary["keyword"] == "STOP" and summary["source"] == SOURCE_KEYWORD
    assert summary["changed_at"] == clock.now() - timedelta(days=40)


def test_an_opt_out_by_carrier_error_21610_says_how_it_happened(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    opt_out(session, shop, clock, source=SOURCE_CARRIER_21610)

    with pytest.raises(ClientUnsubscribed) as refused:
        ensure_may_text(session, shop.business.id, PHONE)
    assert "2026-11-16" in refused.value.message
    assert SOURCE_CARRIER_21610 in refused.value.message
    (record,) = queries.consent_history(session, shop.business.id, PHONE)
    assert (record.action, record.source, record.keyword) == ("opt_out", SOURCE_CARRIER_21610, None)


def test_every_change_is_recorded_and_a_repeat_is_recorded_but_not_a_change(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    first = opt_out(session, shop, clock)
    clock.advance(timedelta(hours=1))
    repeat = opt_out(session, shop, clock)
    clock.advance(timedelta(hours=1))
    back = set_consent(
        session,
        business_id=shop.business.id,
        phone=PHONE,
        opted_out=False,
        source=SOURCE_KEYWORD,
        keyword="START",
        sms_number=shop.number.phone_number,
        message_id=None,
        at=clock.now(),
    )

    assert (first, repeat, back) == (True, False, True)
    history = queries.consent_history(session, shop.business.id, PHONE)
    assert [(r.action, r.keyword) for r in history] == [
        ("opt_out", "STOP"),
        ("opt_out", "STOP"),
        ("opt_in", "START"),
    ]
    assert all(r.sms_number == shop.number.phone_number for r in history)
    assert [r.created_at for r in history] == sorted(r.created_at for r in history)
    assert is_opted_out(session, shop.business.id, PHONE) is False
    ensure_may_text(session, shop.business.id, PHONE)


def test_consent_belongs_to_the_business(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    a = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    b = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")

    opt_out(session, a, clock)

    assert is_opted_out(session, a.business.id, PHONE) is True
    assert is_opted_out(session, b.business.id, PHONE) is False
    ensure_may_text(session, b.business.id, PHONE)
    assert queries.consent_history(session, b.business.id, PHONE) == []
    assert queries.consents_for(session, b.business.id, [PHONE]) == {}
    assert set(queries.consents_for(session, a.business.id, [PHONE, "+12125550199"])) == {PHONE}


@pytest.mark.parametrize(
    "body",
    ["Thanks!", "stop by tomorrow?", "Please stop", "yes please", "help me with my booking", ""],
)
def test_ordinary_text_is_no_keyword(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    message_id = inbound_id(session, shop, clock)

    outcome = apply_inbound_keyword(
        session,
        business_id=shop.business.id,
        phone=PHONE,
        body=body,
        sms_number=shop.number.phone_number,
        message_id=message_id,
        at=clock.now(),
    )

    assert outcome is None
    assert queries.consent_history(session, shop.business.id, PHONE) == []


def test_keywords_decide_by_the_current_state(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    message_id = inbound_id(session, shop, clock)

    def apply(body: str) -> tuple[Keyword, str, bool] | None:
        outcome = apply_inbound_keyword(
            session,
            business_id=shop.business.id,
            phone=PHONE,
            body=body,
            sms_number=shop.number.phone_number,
            message_id=message_id,
            at=clock.now(),
        )
        return None if outcome is None else (outcome.kind, outcome.keyword, outcome.changed)

    assert apply("yes") is None  # subscribed: an ordinary "yes"
    assert apply("Start") is None
    assert apply("help") == (Keyword.HELP, "HELP", False)
    assert queries.consent_history(session, shop.business.id, PHONE) == []

    assert apply("Quit!") == (Keyword.OPT_OUT, "QUIT", True)
    assert apply("info") == (Keyword.HELP, "INFO", False)
    assert is_opted_out(session, shop.business.id, PHONE) is True
    assert apply("unstop") == (Keyword.OPT_IN, "UNSTOP", True)
    assert is_opted_out(session, shop.business.id, PHONE) is False

    history = queries.consent_history(session, shop.business.id, PHONE)
    assert [(r.action, r.keyword, r.message_id) for r in history] == [
        ("opt_out", "QUIT", message_id),
        ("opt_in", "UNSTOP", message_id),
    ]
