"""Per-day units for the usage chart, grouped in the business's time zone, and the texts that
reached a number the business released (DESIGN.md §1, "Businesses, plans and the allowance",
"The SMS number"; §2, "Allowance")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.businesses.queries import daily_units, unrouted_for
from messagecenter.carriers.base import InboundSms
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations.queries import ensure_conversation
from messagecenter.intake.keywords import record_carrier_reply
from messagecenter.intake.record import record_inbound
from messagecenter.numbers.service import change_number, suggest_numbers
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.service import record_rejected
from tests.factories import PUBLIC_URL, SetUp, make_business, make_client, text_from

LA = "America/Los_Angeles"
ZONE = ZoneInfo(LA)
MARIA = "+12125550142"
PICTURE = ["https://media.example.test/p.jpg"]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)  # type: ignore[misc]


def november(session: Session, business_id: int) -> dict[date, tuple[int, int]]:
    return daily_units(session, business_id, local(2026, 11, 1), local(2026, 12, 1), LA)


def _la_business(session: Session, context: AppContext, at: datetime, **kw: str) -> SetUp:
    return make_business(
        session,
        context.carrier,
        at,
        timezone=LA,
        allowance=1000,
        **kw,  # type: ignore[arg-type]
    )


def test_days_are_the_business_days_not_utc_days(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _la_business(session, context, local(2026, 11, 1))
    client = make_client(session, setup.business, local(2026, 11, 1), cell_phone=MARIA)
    late = local(2026, 11, 30, 23, 30)  # 2026-12-01 07:30 UTC
    assert late.astimezone(UTC).date() == date(2026, 12, 1)
    text_from(session, setup.number, MARIA, "Still open?", late)
    send_message(
        session, setup.business, body="Yes", sender=Sender.automated(),
        at=local(2026, 11, 30, 23, 45), client=client,
    )  # fmt: skip
    early = local(2026, 11, 29, 0, 10)  # 08:10 UTC the same day
    text_from(session, setup.number, MARIA, "Photo", early, media=PICTURE)  # an MMS: 3 units
    text_from(session, setup.number, MARIA, "First thing", local(2026, 11, 1, 0, 0))

    assert november(session, setup.business.id) == {
        date(2026, 11, 1): (1, 0),
        date(2026, 11, 29): (3, 0),
        date(2026, 11, 30): (1, 1),
    }


def test_the_range_is_half_open_at_local_midnights(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _la_business(session, context, local(2026, 10, 1))
    for at in (local(2026, 10, 31, 23, 59), local(2026, 12, 1, 0, 0), local(2026, 12, 1, 0, 30)):
        text_from(session, setup.number, MARIA, "outside November", at)
    text_from(session, setup.number, MARIA, "inside", local(2026, 11, 15, 12, 0))
    assert november(session, setup.business.id) == {date(2026, 11, 15): (1, 0)}


def test_inbound_and_outbound_are_counted_apart_and_carrier_replies_not_at_all(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _la_business(session, context, local(2026, 11, 1))
    client = make_client(session, setup.business, local(2026, 11, 1), cell_phone=MARIA)
    day = local(2026, 11, 20, 10, 0)
    for minute in range(3):
        send_message(
            session, setup.business, body=f"Out {minute}", sender=Sender.automated(),
            at=day + timedelta(minutes=minute), client=client,
        )  # fmt: skip
    send_message(
        session, setup.business, body="A picture", sender=Sender.automated(),
        at=day + timedelta(minutes=5), client=client, media_urls=PICTURE,
    )  # fmt: skip
    text_from(session, setup.number, MARIA, "Thanks", day + timedelta(minutes=10))
    # STOP counts one unit; the carrier's automatic answer is in the thread but counts none.
    outcome = text_from(session, setup.number, MARIA, "STOP", day + timedelta(minutes=20))
    assert outcome.replies, "the carrier's answer is recorded"

    # A carrier entry alone on a day (uses no units) gives that day no entry at all.
    conversation = ensure_conversation(session, setup.business.id, MARIA, client.id, day)
    record_carrier_reply(
        session, setup.business, setup.number, conversation, "You are unsubscribed.",
        local(2026, 11, 21, 9, 0),
    )  # fmt: skip

    assert november(session, setup.business.id) == {date(2026, 11, 20): (2, 3 + 3)}


def test_the_days_add_up_to_the_units_used(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The chart and the meter on the usage page tell the same story."""
    setup = _la_business(session, context, local(2026, 11, 1))
    client = make_client(session, setup.business, local(2026, 11, 1), cell_phone=MARIA)
    for day in (3, 9, 30):
        at = local(2026, 11, day, 22, 0)
        text_from(session, setup.number, MARIA, f"Hi on the {day}th", at)
        send_message(
            session, setup.business, body="Hello", sender=Sender.automated(),
            at=at + timedelta(minutes=1), client=client,
        )  # fmt: skip
    summary = usage.summarize(session, setup.business, local(2026, 11, 30, 23, 0))
    days = november(session, setup.business.id)
    assert sum(i for i, _ in days.values()) == summary.inbound_units == 3
    assert sum(o for _, o in days.values()) == summary.outbound_units == 3


def test_a_message_the_carrier_refused_before_accepting_counts_on_no_day(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """DESIGN.md §2 Allowance: a message the carrier refuses before accepting it gives its
    units back. The meter gives them back (usage.give_back); the per-day chart beside it must
    not keep counting them, or the days add up to more than the units used."""
    setup = _la_business(session, context, local(2026, 11, 1))
    client = make_client(session, setup.business, local(2026, 11, 1), cell_phone=MARIA)
    at = local(2026, 11, 12, 9, 0)
    kept = send_message(
        session, setup.business, body="Kept", sender=Sender.automated(), at=at, client=client
    )
    refused = send_message(
        session, setup.business, body="Refused", sender=Sender.automated(), at=at, client=client
    )
    record_rejected(session, refused.id, explain(21211), "invalid number", at)
    summary = usage.summarize(session, setup.business, at)
    assert summary.outbound_units == kept.units == 1
    assert november(session, setup.business.id) == {date(2026, 11, 12): (0, 1)}


def test_another_business_is_not_counted(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    ours = _la_business(session, context, local(2026, 11, 1))
    theirs = _la_business(session, context, local(2026, 11, 1), business_phone="+13125550100")
    text_from(session, theirs.number, MARIA, "Hi there", local(2026, 11, 5, 9, 0))
    text_from(session, ours.number, MARIA, "Hi here", local(2026, 11, 6, 9, 0))
    assert november(session, ours.business.id) == {date(2026, 11, 6): (1, 0)}
    assert november(session, theirs.business.id) == {date(2026, 11, 5): (1, 0)}


# ---------------------------------------------------------------------------- unrouted


def _change(session: Session, context: AppContext, setup: SetUp, at: datetime) -> str:
    """Move the business to another suggested number; the old number's E.164."""
    old = setup.number.phone_number
    chosen = suggest_numbers(session, setup.business, context.carrier)[0]
    change_number(session, setup.business, context.carrier, chosen, PUBLIC_URL, at, confirmed=True)
    return old


def test_unrouted_for_lists_only_texts_to_the_business_released_numbers(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    t0 = clock.now()
    ours = make_business(session, context.carrier, t0)
    theirs = make_business(session, context.carrier, t0, business_phone="+13125550100")
    our_old = _change(session, context, ours, t0 + timedelta(hours=1))
    their_old = _change(session, context, theirs, t0 + timedelta(hours=1))

    # Late replies to the old numbers: unrouted, attached to no business.
    first = text_from(session, ours.number, MARIA, "Is this still you?", t0 + timedelta(hours=2))
    assert first.unrouted and first.business_id is None
    text_from(session, ours.number, "+12125550143", "Hello?", t0 + timedelta(hours=3))
    text_from(session, theirs.number, MARIA, "Their old number", t0 + timedelta(hours=3))
    # A number nobody here ever held.
    stray = InboundSms("SMstray", MARIA, "+12125550177", "Wrong number", [])
    assert record_inbound(session, stray, t0 + timedelta(hours=3)).unrouted

    listed = unrouted_for(session, ours.business.id)
    assert [(u.to_phone, u.body) for u in listed] == [
        (our_old, "Hello?"),  # newest first
        (our_old, "Is this still you?"),
    ]
    assert [(u.to_phone, u.body) for u in unrouted_for(session, theirs.business.id)] == [
        (their_old, "Their old number")
    ]
    assert len(unrouted_for(session, ours.business.id, limit=1)) == 1


def test_a_business_that_never_changed_its_number_has_no_unrouted_texts(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    _change(session, context, other, clock.now())
    text_from(session, other.number, MARIA, "to the other's old number", clock.now())
    text_from(session, setup.number, MARIA, "routed as usual", clock.now())
    assert unrouted_for(session, setup.business.id) == []
