"""Bulk sends: whom a text reaches and whom it skips (by reason), the send itself through
compose, idempotent creation, the hard stop, cancelling the rest, the frequency cap, and the
filters over the All Clients report."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.campaigns import service
from messagecenter.campaigns.service import Audience, AudienceFilter
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.errors import AllowanceExhausted, Conflict, InvalidInput
from messagecenter.models import BulkSend, Business, Client, Conversation, Message, StaffMember
from messagecenter.models.status import CANCELED, QUEUED
from messagecenter.sending.compose import Sender
from messagecenter.sms.content_rules import ContentRefused
from tests.factories import SetUp, count, make_business, make_client, text_from, used

TEXT = "Hi [Firstname], [BusinessName] is closed on Monday for repairs."


def client(session: Session, shop: SetUp, clock: FrozenClock, first: str, phone: str | None,
           **switches: bool) -> Client:  # fmt: skip
    return make_client(session, shop.business, clock.now(), first_name=first, cell_phone=phone,
                       **switches)  # fmt: skip


def everyone(session: Session, shop: SetUp, clock: FrozenClock) -> dict[str, Client]:
    """One client per way of being reached or skipped."""
    clients = {
        "ana": client(session, shop, clock, "Ana", "+12125550101", sms_marketing=True),
        "ben": client(session, shop, clock, "Ben", "+12125550102", sms_marketing=True),
        "cy": client(session, shop, clock, "Cy", None, sms_marketing=True),
        "dee": client(session, shop, clock, "Dee", "+12125550104", sms_marketing=True),
        "eve": client(session, shop, clock, "Eve", "+12125550105", sms_marketing=False),
        # Ana's partner shares her phone: one text reaches the phone.
        "fay": client(session, shop, clock, "Fay", "+12125550101", sms_marketing=True),
    }
    text_from(session, shop.number, "+12125550104", "STOP", clock.now())
    session.flush()
    return clients


def staff_of(session: Session, shop: SetUp) -> int:
    return (
        session.scalars(
            select(StaffMember.id).where(StaffMember.business_id == shop.business.id)
        ).first()
        or 0
    )


def send(session: Session, shop: SetUp, clock: FrozenClock, key: str = "k-1",
         audience: Audience | None = None, body: str = TEXT,
         category: str = "marketing") -> tuple[BulkSend, bool]:  # fmt: skip
    return service.create(
        session, shop.business, request_key=key, body=body, category=category,
        audience=audience or Audience(), sender=Sender.automated(),
        at=clock.now(),
    )  # fmt: skip


def test_the_preview_counts_whom_it_reaches_and_whom_it_skips_by_reason(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    everyone(session, shop, clock)
    reach = service.reach(session, shop.business, Audience(), TEXT, "marketing", clock.now())
    assert [text for _, text in reach.texts] == [
        f"Hi Ana, {shop.business.name} is closed on Monday for repairs.",
        f"Hi Ben, {shop.business.name} is closed on Monday for repairs.",
    ]
    assert reach.skipped == {
        "no_cell_phone": 1, "unsubscribed": 1, "switched_off": 1, "same_phone": 1
    }  # fmt: skip
    assert reach.units == 2 and reach.fits
    assert reach.remaining == 100 - used(session, shop.business, clock.now())
    # Nothing was written by looking.
    assert count(session, BulkSend) == 0


def test_a_send_queues_one_personal_text_per_reached_phone_through_compose(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    everyone(session, shop, clock)
    before = used(session, shop.business, clock.now())
    bulk, replayed = send(session, shop, clock)
    assert not replayed and bulk.recipients == 2 and bulk.units == 2
    messages = session.scalars(select(Message).where(Message.bulk_send_id == bulk.id)).all()
    assert sorted(m.body.split(",")[0] for m in messages) == ["Hi Ana", "Hi Ben"]
    assert {m.category for m in messages} == {"marketing"}
    assert {m.status for m in messages} == {QUEUED}
    assert used(session, shop.business, clock.now()) == before + 2
    progress = service.progress(session, [bulk])[bulk.id]
    assert (progress.queued, progress.skipped) == (2, 4)


def test_the_same_key_answers_the_same_send_and_sends_nothing_more(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    everyone(session, shop, clock)
    first, _ = send(session, shop, clock)
    again, replayed = send(session, shop, clock)
    assert replayed and again.id == first.id
    assert count(session, Message, Message.bulk_send_id.is_not(None)) == 2
    with pytest.raises(Conflict) as reused:
        send(session, shop, clock, body="Another text for [Firstname]")
    assert reused.value.code == "key_reused"


def test_a_hard_stop_plan_refuses_a_send_that_does_not_fit_and_writes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    tight = make_business(session, context.carrier, clock.now(), allowance=1)
    for i in range(3):
        client(session, tight, clock, f"C{i}", f"+1212555020{i}", sms_marketing=True)
    with pytest.raises(AllowanceExhausted) as refused:
        send(session, tight, clock)
    assert "needs 3 units" in refused.value.message and "1 left" in refused.value.message
    assert count(session, BulkSend) == 0
    assert count(session, Message, Message.business_id == tight.business.id) == 0


def test_cancel_withdraws_what_has_not_gone_and_gives_the_units_back(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    everyone(session, shop, clock)
    before = used(session, shop.business, clock.now())
    bulk, _ = send(session, shop, clock)
    cancelled = service.cancel(session, shop.business, bulk.id, clock.now())
    assert cancelled.status == "cancelled"
    statuses = session.scalars(select(Message.status).where(Message.bulk_send_id == bulk.id))
    assert set(statuses) == {CANCELED}
    assert used(session, shop.business, clock.now()) == before
    assert service.progress(session, [bulk])[bulk.id].cancelled == 2
    assert service.cancel(session, shop.business, bulk.id, clock.now()).status == "cancelled"


def test_the_frequency_cap_skips_clients_who_had_enough_marketing_texts(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    everyone(session, shop, clock)
    shop.business.marketing_cap = 2
    send(session, shop, clock, key="one")
    send(session, shop, clock, key="two")
    third, _ = send(session, shop, clock, key="three")
    # Ana's phone and Ben's had two each (Fay shares Ana's phone, so the cap counts her too).
    assert third.recipients == 0 and third.skipped["frequency_cap"] == 3
    # Word about the business itself is not marketing: the cap leaves it alone.
    notice, _ = send(session, shop, clock, key="four", category="account")
    assert notice.recipients == 3  # Eve has marketing off but account texts on
    # Outside the window the cap counts nothing.
    clock.advance(timedelta(days=31))
    later, _ = send(session, shop, clock, key="five")
    assert later.recipients == 2


def test_chosen_clients_and_each_filter_narrow_the_audience(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    people = everyone(session, shop, clock)
    clock.advance(timedelta(days=3))
    late = client(session, shop, clock, "Gil", "+12125550107", sms_marketing=True)

    def names(audience: Audience) -> list[str]:
        contacts = service._audience(session, shop.business, audience)
        return [c.first_name for c in contacts]

    assert names(Audience(client_ids=(people["ben"].id, late.id))) == ["Ben", "Gil"]
    assert names(Audience(filter=AudienceFilter(can_receive=True))) == [
        "Ana", "Ben", "Dee", "Eve", "Fay", "Gil"
    ]  # fmt: skip
    assert names(Audience(filter=AudienceFilter(subscription="unsubscribed"))) == ["Dee"]
    assert "Dee" not in names(Audience(filter=AudienceFilter(subscription="subscribed")))
    assert "Eve" not in names(Audience(filter=AudienceFilter(marketing_on=True)))
    created = clock.now().astimezone(ZoneInfo(shop.business.timezone)).date()
    assert names(Audience(filter=AudienceFilter(created_from=created))) == ["Gil"]
    assert "Gil" not in names(
        Audience(filter=AudienceFilter(created_to=created - timedelta(days=1)))
    )
    # Last texted: only Dee has a conversation (her STOP).
    texted = names(Audience(filter=AudienceFilter(last_texted_from=date(2000, 1, 1))))
    assert texted == ["Dee"]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("Hi [Firstname], your [BookingTime] is moved", "[BookingTime] is not available"),
        ("Hi [FirstName]", "did you mean [Firstname]"),
        ("   ", "Write the text"),
    ],
)
def test_a_text_with_a_variable_a_bulk_send_cannot_fill_is_refused(
    session: Session, shop: SetUp, clock: FrozenClock, body: str, complaint: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.reach(session, shop.business, Audience(), body, "marketing", clock.now())
    assert complaint in refused.value.message


def test_content_a_carrier_refuses_is_refused_before_anything_is_counted(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    with pytest.raises(ContentRefused):
        send(session, shop, clock, body="20% off CBD gummies, [Firstname]!")
    assert count(session, BulkSend) == 0


def test_a_twin_request_written_first_is_answered_not_doubled(
    session: Session, shop: SetUp, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one key (a double click): the one that looked before the other
    wrote finds the key taken when it writes, and answers the twin's send."""
    everyone(session, shop, clock)
    first, _ = send(session, shop, clock)
    looked = iter([None])  # the first look happens before the twin is written
    real = service.queries.bulk_send_by_key
    monkeypatch.setattr(
        service.queries, "bulk_send_by_key", lambda *a: next(looked, None) or real(*a)
    )
    again, replayed = send(session, shop, clock)
    assert replayed and again.id == first.id
    assert count(session, BulkSend) == 1
    assert count(session, Message, Message.bulk_send_id.is_not(None)) == 2


def test_a_staff_members_bulk_send_is_no_reply_unread_texts_stay_unread(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    """A bulk send answers nobody: a question that came in stays unread and counted, and the
    conversation does not move to Replied."""
    everyone(session, shop, clock)
    text_from(session, shop.number, "+12125550101", "Can I move my 3pm?", clock.now())
    session.flush()
    conversation = session.scalars(
        select(Conversation).where(Conversation.phone == "+12125550101")
    ).one()
    session.refresh(shop.business)
    before = (conversation.unread_count, conversation.folder, shop.business.unread_messages)
    service.create(
        session, shop.business, request_key="staff", body=TEXT, category="marketing",
        audience=Audience(), sender=Sender.staff(staff_of(session, shop)), at=clock.now(),
    )  # fmt: skip
    session.refresh(conversation)
    session.refresh(shop.business)
    assert (conversation.unread_count, conversation.folder) == before[:2] == (1, "unread")
    assert shop.business.unread_messages == before[2]


def test_a_personal_text_goes_to_one_chosen_client(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    people = everyone(session, shop, clock)
    with pytest.raises(InvalidInput) as refused:
        send(session, shop, clock, category="personal",
             audience=Audience(client_ids=(people["ana"].id, people["ben"].id)))  # fmt: skip
    assert refused.value.field == "category"
    with pytest.raises(InvalidInput):
        send(session, shop, clock, key="all", category="personal")
    alone, _ = send(session, shop, clock, key="one", category="personal",
                    audience=Audience(client_ids=(people["ana"].id,)))  # fmt: skip
    assert alone.recipients == 1


def test_two_marketing_sends_at_once_never_pass_the_cap_together(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """Released together by a barrier, each on its own connection: the first to take the
    business's row sends, and the other counts its text and skips the client (cap 1)."""
    context = committed_context
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, clock.now())
        setup.business.marketing_cap = 1
        ana = make_client(session, setup.business, clock.now(), first_name="Ana",
                          cell_phone="+12125550101", sms_marketing=True)  # fmt: skip
        business_id, ana_id = setup.business.id, ana.id
    barrier = threading.Barrier(2)
    outcomes: list[tuple[int, int]] = []  # (recipients, skipped by the cap)

    def send_offer(key: str) -> None:
        barrier.wait(timeout=30)
        with session_scope(context.sessions) as session:
            business = session.get_one(Business, business_id)
            bulk, _ = service.create(
                session, business, request_key=key, body="20% off this week",
                category="marketing", audience=Audience(client_ids=(ana_id,)),
                sender=Sender.automated(), at=clock.now(),
            )  # fmt: skip
            outcomes.append((bulk.recipients, bulk.skipped.get("frequency_cap", 0)))

    threads = [threading.Thread(target=send_offer, args=(k,)) for k in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == [(0, 1), (1, 0)]
    with session_scope(context.sessions) as session:
        sent = session.scalar(
            select(func.count()).select_from(Message).where(Message.business_id == business_id)
        )
    assert sent == 1
