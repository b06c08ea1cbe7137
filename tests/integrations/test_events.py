"""Events are recorded where they happen, in the same transaction: a client's text, a status
moving forward, an opt-out and opt-in, a skipped notification (and the confirmation helper)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.intake.record import record_inbound_batch
from messagecenter.integrations import service
from messagecenter.models import Message, Notification, WebhookDelivery
from messagecenter.models.webhook import EVENT_TYPES
from messagecenter.notifications import service as notifications
from messagecenter.notifications.templates import BookingData
from messagecenter.sending import service as sending
from messagecenter.sending.compose import Sender, send_message
from tests.factories import MARIA, SetUp, make_client, text_from

URL = "https://93.184.216.34/hooks"


def subscribe(session: Session, shop: SetUp, clock: FrozenClock) -> None:
    service.create_endpoint(
        session,
        shop.business.id,
        url=URL,
        events=list(EVENT_TYPES),
        description="",
        at=clock.now(),
        allow_private=False,
    )


def sent(session: Session) -> list[tuple[str, dict[str, Any]]]:
    deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
    return [(d.event_type, json.loads(d.body)["data"]) for d in deliveries]


def test_a_clients_text_is_message_received(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    subscribe(session, shop, clock)
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(
        session, shop.number, MARIA, "Can I move\r\nmy 4pm?", clock.now(), media=["https://m/1"]
    )
    message = session.scalars(select(Message)).one()
    assert sent(session) == [
        (
            "message.received",
            {
                "message_id": message.id,
                "conversation_id": message.conversation_id,
                "client_id": client.id,
                "from": MARIA,
                "to": shop.number.phone_number,
                "body": "Can I move\nmy 4pm?",
                "media_urls": ["https://m/1"],
                "received_at": "2026-11-16T15:00:00Z",
            },
        )
    ]


def test_stop_and_start_are_client_opted_out_and_in(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    subscribe(session, shop, clock)
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    text_from(session, shop.number, MARIA, "STOP", clock.now())  # no change: no event
    text_from(session, shop.number, MARIA, "Start", clock.now())
    consent = [(kind, data) for kind, data in sent(session) if kind.startswith("client.")]
    assert consent == [
        (
            "client.opted_out",
            {"phone": MARIA, "client_ids": [client.id], "source": "keyword", "keyword": "STOP",
             "changed_at": "2026-11-16T15:00:00Z"},
        ),
        (
            "client.opted_in",
            {"phone": MARIA, "client_ids": [client.id], "source": "keyword", "keyword": "START",
             "changed_at": "2026-11-16T15:00:00Z"},
        ),
    ]  # fmt: skip
    assert [kind for kind, _ in sent(session)].count("message.received") == 3


def test_a_status_moving_forward_is_message_status(
    session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    message = send_message(
        session, shop.business, body="See you at 4", sender=Sender.automated(), client=client,
        at=clock.now(),
    )  # fmt: skip
    session.commit()
    assert context.dispatcher.run_once() == 1
    subscribe(session, shop, clock)
    session.commit()
    session.refresh(message)
    assert message.carrier_sid is not None

    def report(word: str) -> StatusReport:
        assert message.carrier_sid is not None
        return StatusReport(message.carrier_sid, word, message.id, None, {}, word)

    at = datetime(2026, 11, 16, 15, 1, tzinfo=UTC)
    sending.record_statuses(session, [report("sent"), report("delivered")], at)  # batch path
    sending.record_statuses(session, [report("sent")], at)  # a late one: no move, no event
    statuses = [(k, d["status"]) for k, d in sent(session)]
    assert statuses == [("message.status", "delivered")]
    assert sent(session)[0][1] == {
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "status": "delivered",
        "error_code": None,
        "error_message": None,
    }


def test_a_failure_reported_one_by_one_is_message_status_with_the_error(
    session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    message = send_message(
        session, shop.business, body="See you at 4", sender=Sender.automated(), client=client,
        at=clock.now(),
    )  # fmt: skip
    session.commit()
    assert context.dispatcher.run_once() == 1
    subscribe(session, shop, clock)
    session.refresh(message)
    assert message.carrier_sid is not None
    failed = StatusReport(message.carrier_sid, "undelivered", message.id, explain(30003), {})
    assert sending.record_status(session, failed, clock.now())
    ((kind, data),) = sent(session)
    assert kind == "message.status"
    assert (data["status"], data["error_code"]) == ("undelivered", 30003)
    assert data["error_message"]


def test_a_skipped_notification_is_notification_skipped(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    subscribe(session, shop, clock)
    client = make_client(session, shop.business, clock.now(), cell_phone=None)
    trigger = notifications.Trigger(
        type="booking_reminder",
        reference="booking-42",
        client_id=client.id,
        data=BookingData(datetime(2026, 11, 20, 15, tzinfo=UTC), "Massage", "Ana", "Main St"),
    )
    (outcome,) = notifications.trigger_many(session, shop.business, [trigger], clock.now())
    assert outcome.notification is not None
    ((kind, data),) = sent(session)
    assert kind == "notification.skipped"
    assert data["notification_id"] == outcome.notification.id
    assert (data["type"], data["reference"], data["client_id"]) == (
        "booking_reminder",
        "booking-42",
        client.id,
    )
    assert data["reason_code"] == "no_cell_phone" and data["reason"]


def test_a_retried_skip_is_not_announced_again(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    """A batch holding a retry of a skipped trigger announces only its own new outcomes."""
    subscribe(session, shop, clock)
    client = make_client(session, shop.business, clock.now(), cell_phone=None)
    booking = BookingData(datetime(2026, 11, 20, 15, tzinfo=UTC), "Massage", "Ana", "Main St")

    def trigger(reference: str) -> notifications.Trigger:
        return notifications.Trigger("booking_reminder", reference, client_id=client.id,
                                     data=booking)  # fmt: skip

    notifications.trigger_many(session, shop.business, [trigger("b-1")], clock.now())
    notifications.trigger_many(session, shop.business, [trigger("b-1"), trigger("b-2")],
                               clock.now())  # fmt: skip
    references = [data["reference"] for kind, data in sent(session)]
    assert references == ["b-1", "b-2"]


def test_the_confirmation_helper_records_notification_confirmed(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    subscribe(session, shop, clock)
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    trigger = notifications.Trigger(
        type="booking_confirmation",
        reference="booking-7",
        client_id=client.id,
        data=BookingData(datetime(2026, 11, 20, 15, tzinfo=UTC), "Massage", "Ana", "Main St"),
    )
    (outcome,) = notifications.trigger_many(session, shop.business, [trigger], clock.now())
    assert outcome.notification is not None
    notification = session.get(Notification, outcome.notification.id)
    assert notification is not None
    notification.confirmed_at = clock.now()
    service.record_events(session, [service.notification_confirmed(notification, 99)])
    kind, data = sent(session)[-1]
    assert kind == "notification.confirmed"
    assert (data["reference"], data["reply_message_id"]) == ("booking-7", 99)


def test_a_batch_of_texts_looks_for_subscribers_once_however_many_runs_it_has(
    session: Session, context: AppContext, shop: SetUp, clock: FrozenClock
) -> None:
    """The intake's hot path stays set-wise: a keyword cuts a batch into runs, and each run
    used to look for the business's endpoints on its own."""
    subscribe(session, shop, clock)
    texts = [
        (InboundSms(f"SM{n:032x}", MARIA, shop.number.phone_number, body, []), clock.now())
        for n, body in enumerate(["hi", "HELP", "there", "INFO", "bye"])
    ]
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    event.listen(context.engine, "before_cursor_execute", counted)
    try:
        record_inbound_batch(session, texts)
    finally:
        event.remove(context.engine, "before_cursor_execute", counted)
    # The lookup of the endpoints themselves (the route's query asks only whether any exist).
    lookups = [s for s in statements if s.startswith("SELECT webhook_endpoints.")]
    assert len(lookups) == 1, lookups
    assert [kind for kind, _ in sent(session)] == ["message.received"] * 5
