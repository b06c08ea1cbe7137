"""Triggering: each notification queued through send_messages or skipped with its reason,
recorded either way; retries, replacements and cancels keep one message per booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import AllowanceExhausted, InvalidInput, NotFound
from messagecenter.models import Client, Message, Notification
from messagecenter.models.message import DISPATCH_ACCEPTED, DISPATCH_PENDING, SENDER_AUTOMATED
from messagecenter.notifications import service
from messagecenter.notifications.service import Outcome, Trigger
from messagecenter.notifications.templates import BookingData
from tests.factories import (
    JOHN,
    MARIA,
    SetUp,
    count,
    make_business,
    make_client,
    text_from,
    used,
)

BOOKING = BookingData(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), "Massage", "Ana", "Main St")


def reminder(client: Client, reference: str = "b-1", **changes: object) -> Trigger:
    values: dict[str, object] = {
        "type": "booking_reminder",
        "reference": reference,
        "client_id": client.id,
        "data": BOOKING,
    }
    values.update(changes)
    return Trigger(**values)  # type: ignore[arg-type]


def one(session: Session, shop: SetUp, trigger: Trigger, at: datetime) -> Outcome:
    (outcome,) = service.trigger_many(session, shop.business, [trigger], at)
    session.flush()
    return outcome


def recorded(session: Session, outcome: Outcome) -> Notification:
    """The outcome's notification as stored, which its answer must match field for field
    (a new one is answered from what was written, not read back)."""
    assert outcome.error is None, outcome.error
    assert outcome.notification is not None
    session.flush()
    stored = session.get(Notification, outcome.notification.id, populate_existing=True)
    assert stored is not None
    for column in Notification.__table__.columns:
        assert getattr(outcome.notification, column.key) == getattr(stored, column.key), column
    return stored


def message(session: Session, message_id: int | None) -> Message:
    assert message_id is not None
    found = session.get(Message, message_id, populate_existing=True)
    assert found is not None
    return found


def test_a_notification_is_queued_as_an_automated_message_with_the_rendered_text(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    notification = recorded(session, one(session, shop, reminder(maria), clock.now()))
    assert notification.status == "queued" and notification.reason is None
    sent = message(session, notification.message_id)
    assert sent.sender_type == SENDER_AUTOMATED
    assert sent.to_phone == MARIA
    assert sent.body == (
        f"{shop.business.name}: Hi Maria, a reminder of your Massage on Fri, Nov 20 at "
        "10:00 AM. To change it, call (212) 555-0100."
    )
    assert sent.next_attempt_at == clock.now()  # due at once
    assert used(session, shop.business, clock.now()) == 1


def test_the_same_trigger_twice_is_one_notification_and_one_message(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    first = recorded(session, one(session, shop, reminder(maria), clock.now()))
    again = one(session, shop, reminder(maria), clock.now() + timedelta(minutes=5))
    assert again.replayed and recorded(session, again).id == first.id
    assert count(session, Message, Message.business_id == shop.business.id) == 1
    assert count(session, Notification) == 1
    assert used(session, shop.business, clock.now()) == 1


def test_a_batch_repeating_one_booking_refuses_the_repeat(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    first, second = service.trigger_many(
        session, shop.business, [reminder(maria), reminder(maria)], clock.now()
    )
    assert recorded(session, first).status == "queued"
    assert isinstance(second.error, InvalidInput) and second.error.field == "reference"
    assert count(session, Message, Message.business_id == shop.business.id) == 1


def test_send_at_holds_the_message_in_the_outbox_until_its_time(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    later = clock.now() + timedelta(hours=24)  # 10:00 in New York: no quiet hours to wait
    notification = recorded(
        session, one(session, shop, reminder(maria, send_at=later), clock.now())
    )
    sent = message(session, notification.message_id)
    assert sent.dispatch_state == DISPATCH_PENDING and sent.next_attempt_at == later
    assert notification.send_at == later


def test_a_reminder_due_at_night_waits_out_the_clients_quiet_hours(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    # 15:00 UTC is 10:00 in New York; +13 h is 23:00 there: it waits for 08:00 (13:00 UTC).
    night = clock.now() + timedelta(hours=13)
    notification = recorded(
        session, one(session, shop, reminder(maria, send_at=night), clock.now())
    )
    sent = message(session, notification.message_id)
    assert sent.quiet_hours and sent.sender_type == "automated"
    assert sent.next_attempt_at == sent.quiet_until == clock.now() + timedelta(hours=22)


def test_a_new_time_replaces_the_pending_reminder_and_gives_its_units_back(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    at = clock.now()
    old = recorded(
        session, one(session, shop, reminder(maria, send_at=at + timedelta(hours=20)), at)
    )
    new = recorded(
        session, one(session, shop, reminder(maria, send_at=at + timedelta(hours=22)), at)
    )
    session.refresh(old)
    assert new.id != old.id and new.status == "queued"
    assert old.status == "cancelled" and old.reason_code == "replaced"
    assert old.reason == f"Replaced by notification {new.id} before it was sent."
    withdrawn = message(session, old.message_id)
    assert withdrawn.status == "canceled" and withdrawn.dispatch_state != DISPATCH_PENDING
    assert message(session, new.message_id).dispatch_state == DISPATCH_PENDING
    assert used(session, shop.business, at) == 1  # the withdrawn one's unit came back


def test_new_data_at_the_same_time_redoes_the_same_notification(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    at = clock.now()
    first = recorded(session, one(session, shop, reminder(maria), at))
    first_message = first.message_id
    moved = BookingData(BOOKING.booking_at, "Facial", "Ana", "Main St")
    again = one(session, shop, reminder(maria, data=moved), at)
    redone = recorded(session, again)
    assert not again.replayed and redone.id == first.id
    assert redone.message_id != first_message and redone.data["service"] == "Facial"
    assert message(session, first_message).status == "canceled"
    assert "Facial" in message(session, redone.message_id).body
    assert used(session, shop.business, at) == 1


def test_a_reminder_that_has_gone_is_never_replaced_nor_sent_again(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    at = clock.now()
    first = recorded(session, one(session, shop, reminder(maria), at))
    gone = message(session, first.message_id)
    gone.dispatch_state, gone.status = DISPATCH_ACCEPTED, "sent"
    session.flush()
    moved = BookingData(BOOKING.booking_at, "Facial", "Ana", "Main St")
    again = one(session, shop, reminder(maria, data=moved), at)
    assert again.replayed and recorded(session, again).id == first.id
    assert count(session, Message, Message.business_id == shop.business.id) == 1
    (view,) = service.present(session, [recorded(session, again)])
    assert view.status == "sent" and view.message_status == "sent"


def test_cancel_withdraws_the_pending_one_of_that_booking_only(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    at = clock.now()
    kept = recorded(session, one(session, shop, reminder(maria, reference="b-2"), at))
    pending = recorded(
        session, one(session, shop, reminder(maria, send_at=at + timedelta(hours=5)), at)
    )
    outcome = one(session, shop, Trigger("booking_reminder", "b-1", cancel=True), at)
    assert [n.id for n in outcome.cancelled] == [pending.id]
    session.refresh(pending)
    assert pending.status == "cancelled" and pending.reason_code == "cancelled"
    assert message(session, pending.message_id).status == "canceled"
    assert message(session, kept.message_id).status == "queued"
    # A retry of the cancelled trigger finds it, cancelled; nothing is sent.
    retry = one(session, shop, reminder(maria, send_at=at + timedelta(hours=5)), at)
    assert retry.replayed and recorded(session, retry).status == "cancelled"
    assert one(session, shop, Trigger("booking_reminder", "b-1", cancel=True), at).cancelled == []


def skipped(session: Session, outcome: Outcome, code: str) -> Notification:
    notification = recorded(session, outcome)
    assert (notification.status, notification.reason_code) == ("skipped", code)
    assert notification.message_id is None and notification.reason
    return notification


def test_skipped_without_a_valid_cell_phone(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    nophone = make_client(session, shop.business, clock.now(), cell_phone=None)
    note = skipped(session, one(session, shop, reminder(nophone), clock.now()), "no_cell_phone")
    assert "has no valid cell phone" in (note.reason or "")
    broken = make_client(session, shop.business, clock.now(), cell_phone=JOHN)
    broken.cell_phone_error = "The carrier says this number cannot receive SMS."
    skipped(session, one(session, shop, reminder(broken), clock.now()), "no_cell_phone")


def test_skipped_when_the_client_unsubscribed(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    note = skipped(session, one(session, shop, reminder(maria), clock.now()), "unsubscribed")
    assert "unsubscribed" in (note.reason or "") and "STOP" in (note.reason or "")


def test_skipped_when_the_business_switched_the_type_off(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    service.save_template(
        session,
        shop.business,
        "booking_reminder",
        enabled=False,
        body=None,
        reset_body=False,
        at=clock.now(),
    )
    note = skipped(session, one(session, shop, reminder(maria), clock.now()), "type_off")
    assert note.reason == "Booking reminder notifications are switched off for this business."


def test_skipped_when_the_client_switched_the_category_off(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), sms_reminders=False)
    note = skipped(session, one(session, shop, reminder(client), clock.now()), "category_off")
    assert "switched off SMS reminders" in (note.reason or "")
    # Marketing is off by default: a birthday greeting is skipped, an account text is not.
    birthday = Trigger("birthday", "bd-2026", client_id=client.id)
    skipped(session, one(session, shop, birthday, clock.now()), "category_off")
    welcome = Trigger("welcome", "signup", client_id=client.id)
    assert recorded(session, one(session, shop, welcome, clock.now())).status == "queued"


def test_skipped_when_the_allowance_is_used_up_on_a_hard_stop_plan(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    tight = make_business(session, context.carrier, clock.now(), allowance=0)
    client = make_client(session, tight.business, clock.now())
    (outcome,) = service.trigger_many(session, tight.business, [reminder(client)], clock.now())
    note = skipped(session, outcome, AllowanceExhausted.code)
    assert "allowance is used up" in (note.reason or "")


def test_an_opt_out_beats_every_switch(session: Session, clock: FrozenClock, shop: SetUp) -> None:
    client = make_client(session, shop.business, clock.now(), sms_reminders=False)
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    service.save_template(
        session,
        shop.business,
        "booking_reminder",
        enabled=False,
        body=None,
        reset_body=False,
        at=clock.now(),
    )
    skipped(session, one(session, shop, reminder(client), clock.now()), "unsubscribed")


def test_a_refused_trigger_records_nothing_and_stops_no_other(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs = make_client(session, other.business, clock.now(), cell_phone=JOHN)
    missing = BookingData(service="Massage")
    outcomes = service.trigger_many(
        session,
        shop.business,
        [
            reminder(theirs, reference="x"),  # another business's client: not found
            reminder(maria, reference="y", data=missing),  # no booking_at for [BookingDate]
            Trigger("help", "z", client_id=maria.id),  # the app's own keyword answer
            Trigger("booking_reminder", "w", cell_phone="+12125550199"),  # nobody's phone
            reminder(maria, reference="ok"),
        ],
        clock.now(),
    )
    errors = [o.error for o in outcomes[:4]]
    assert isinstance(errors[0], NotFound) and errors[0].field == "client_id"
    assert isinstance(errors[1], InvalidInput) and errors[1].field == "data.booking_at"
    assert "[BookingDate]" in errors[1].message
    assert isinstance(errors[2], InvalidInput) and errors[2].field == "type"
    assert isinstance(errors[3], NotFound) and errors[3].field == "cell_phone"
    assert recorded(session, outcomes[4]).status == "queued"
    assert session.scalars(select(Notification.reference)).all() == ["ok"]


def test_a_client_can_be_named_by_cell_phone(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    trigger = Trigger("booking_reminder", "b-9", cell_phone="(212) 555-0142", data=BOOKING)
    assert recorded(session, one(session, shop, trigger, clock.now())).client_id == maria.id


def test_send_at_more_than_a_year_ahead_or_without_a_zone_is_refused(
    session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    far = one(
        session, shop, reminder(maria, send_at=clock.now() + timedelta(days=400)), clock.now()
    )
    assert isinstance(far.error, InvalidInput) and far.error.field == "send_at"


def test_a_template_is_saved_checked_and_reset(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    saved = service.save_template(
        session,
        shop.business,
        "welcome",
        enabled=None,
        body="Hi [Firstname]!",
        reset_body=False,
        at=clock.now(),
    )
    assert saved.customised and saved.enabled and saved.body == "Hi [Firstname]!"
    with pytest.raises(InvalidInput):
        service.save_template(
            session,
            shop.business,
            "welcome",
            enabled=None,
            body="[BookingTime]",
            reset_body=False,
            at=clock.now(),
        )
    off = service.save_template(
        session,
        shop.business,
        "welcome",
        enabled=False,
        body=None,
        reset_body=False,
        at=clock.now(),
    )
    assert off.body == "Hi [Firstname]!" and not off.enabled  # the wording kept
    reset = service.save_template(
        session,
        shop.business,
        "welcome",
        enabled=None,
        body=None,
        reset_body=True,
        at=clock.now(),
    )
    assert not reset.customised and not reset.enabled
    assert reset.body == reset.kind.default_body
