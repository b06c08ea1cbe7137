"""Outgoing webhooks: registering endpoints, and recording events as deliveries.

`record_events` writes one delivery row per subscribed endpoint in the caller's transaction
(the outbox): the change and the news of it commit together or not at all, and the worker
delivers them afterwards (integrations/delivery.py). A delivery only ever goes to an endpoint
of the business the event belongs to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.integrations import queries
from messagecenter.integrations.signing import new_secret
from messagecenter.integrations.targets import (
    Resolver,
    TargetRefused,
    check_target,
    system_resolver,
)
from messagecenter.models import Notification, WebhookDelivery, WebhookEndpoint
from messagecenter.models.notification import NOTIFICATION_SKIPPED, NotificationRecord
from messagecenter.models.webhook import (
    DELIVERY_PENDING,
    EVENT_CLIENT_OPTED_IN,
    EVENT_CLIENT_OPTED_OUT,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    EVENT_NOTIFICATION_CONFIRMED,
    EVENT_NOTIFICATION_SKIPPED,
    EVENT_TYPES,
)

# A delivery is retried for this long after its event (or after "send again").
RETRY_FOR = timedelta(hours=24)
MAX_ENDPOINTS = 20  # per business: every event is written once per subscribed endpoint
MAX_URL_LENGTH = 2000
KEEP_LOG_FOR = timedelta(days=30)  # settled deliveries stay in the log this long


@dataclass(frozen=True)
class Event:
    """Something that happened to a business, to tell its endpoints about."""

    business_id: int
    type: str
    data: dict[str, Any]
    at: datetime


# ------------------------------------------------------------------------- recording events


def record_event(
    session: Session, business_id: int, event_type: str, payload: dict[str, Any], at: datetime
) -> None:
    """One delivery per endpoint of this business subscribed to `event_type`, written in the
    caller's transaction."""
    record_events(session, [Event(business_id, event_type, payload, at)])


def record_events(session: Session, events: Sequence[Event]) -> None:
    """`record_event` for several events: one query finds the endpoints of all their
    businesses, one statement writes the deliveries. Nothing is written (and nothing but that
    query run) when no endpoint wants them."""
    if not events:
        return
    for event in events:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {event.type!r}")
    wanted: dict[int, list[queries.Subscriber]] = {}
    for subscriber in queries.subscribers(session, {e.business_id for e in events}):
        wanted.setdefault(subscriber.business_id, []).append(subscriber)
    rows: list[dict[str, Any]] = []
    for event in events:
        endpoints = [s for s in wanted.get(event.business_id, ()) if event.type in s.events]
        if not endpoints:
            continue
        event_id = "evt_" + uuid.uuid4().hex
        body = event_body(event_id, event)
        for endpoint in endpoints:
            rows.append(
                {
                    "business_id": event.business_id,
                    "endpoint_id": endpoint.endpoint_id,
                    "event_id": event_id,
                    "event_type": event.type,
                    "body": body,
                    "state": DELIVERY_PENDING,
                    "attempts": 0,
                    "next_attempt_at": event.at,
                    "claimed_at": None,
                    "give_up_at": event.at + RETRY_FOR,
                    "last_attempt_at": None,
                    "last_status_code": None,
                    "last_error": None,
                    "delivered_at": None,
                    "created_at": event.at,
                }
            )
    queries.insert_deliveries(session, rows)


def event_body(event_id: str, event: Event) -> str:
    """The JSON every attempt sends (and signs), byte for byte."""
    return json.dumps(
        {
            "id": event_id,
            "type": event.type,
            "timestamp": iso(event.at),
            "business_id": event.business_id,
            "data": event.data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_value,
    )


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# The events, each built where it happens (one line at each point of emission).


class _MessageLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def business_id(self) -> int: ...
    @property
    def conversation_id(self) -> int: ...
    @property
    def error_code(self) -> int | None: ...
    @property
    def error_message(self) -> str | None: ...


def message_received(
    business_id: int,
    message_id: int,
    conversation_id: int,
    client_id: int | None,
    from_phone: str,
    to_phone: str,
    body: str,
    media_urls: Sequence[str],
    at: datetime,
) -> Event:
    return Event(
        business_id,
        EVENT_MESSAGE_RECEIVED,
        {
            "message_id": message_id,
            "conversation_id": conversation_id,
            "client_id": client_id,
            "from": from_phone,
            "to": to_phone,
            "body": body,
            "media_urls": list(media_urls),
            "received_at": at,
        },
        at,
    )


def message_status(message: _MessageLike, status: str, at: datetime) -> Event:
    """An outbound message's status moved forward (queued, sent, delivered, ...)."""
    return Event(
        message.business_id,
        EVENT_MESSAGE_STATUS,
        {
            "message_id": message.id,
            "conversation_id": message.conversation_id,
            "status": status,
            "error_code": message.error_code,
            "error_message": message.error_message,
        },
        at,
    )


def consent_changed(
    session: Session,
    business_id: int,
    phone: str,
    *,
    opted_out: bool,
    source: str,
    keyword: str | None,
    at: datetime,
) -> None:
    """client.opted_out / client.opted_in for a phone whose consent changed, with the
    clients whose cell phone it is (consent belongs to the phone: several may share one)."""
    event_type = EVENT_CLIENT_OPTED_OUT if opted_out else EVENT_CLIENT_OPTED_IN
    if not queries.wanted_by_any(session, business_id, event_type):
        return
    clients = queries.client_ids_with_phone(session, business_id, phone)
    data = {
        "phone": phone,
        "client_ids": clients,
        "source": source,
        "keyword": keyword,
        "changed_at": at,
    }
    record_events(session, [Event(business_id, event_type, data, at)])


def notifications_skipped(
    session: Session, notifications: Iterable[Notification | NotificationRecord], at: datetime
) -> None:
    """notification.skipped for those of `notifications` that were skipped (with why)."""
    record_events(
        session,
        [
            Event(n.business_id, EVENT_NOTIFICATION_SKIPPED, _notice(n), at)
            for n in notifications
            if n.status == NOTIFICATION_SKIPPED
        ],
    )


def notification_confirmed(notification: Notification, message_id: int | None) -> Event:
    """A client confirmed the booking a notification asked about (its YES is `message_id`)."""
    at = notification.confirmed_at
    assert at is not None
    data = {**_notice(notification), "reply_message_id": message_id, "confirmed_at": at}
    return Event(notification.business_id, EVENT_NOTIFICATION_CONFIRMED, data, at)


def _notice(notification: Notification | NotificationRecord) -> dict[str, Any]:
    return {
        "notification_id": notification.id,
        "type": notification.type,
        "reference": notification.reference,
        "client_id": notification.client_id,
        "send_at": notification.send_at,
        "reason_code": notification.reason_code,
        "reason": notification.reason,
        "message_id": notification.message_id,
    }


# ------------------------------------------------------------------------------ endpoints


def create_endpoint(
    session: Session,
    business_id: int,
    *,
    url: str,
    events: Sequence[str],
    description: str,
    at: datetime,
    allow_private: bool,
    resolve: Resolver = system_resolver,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown to the business once).
    Refused (400): not an http(s) URL, a host that does not resolve or resolves to a private
    or loopback address (unless allowed), no events or an unknown one."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"The URL is longer than {MAX_URL_LENGTH} characters.", field="url")
    try:
        check_target(url, allow_private=allow_private, resolve=resolve)
    except TargetRefused as refused:
        raise InvalidInput(str(refused), field="url") from None
    chosen = _events(events)
    if queries.count_live_endpoints(session, business_id) >= MAX_ENDPOINTS:
        raise Conflict(f"A business can have at most {MAX_ENDPOINTS} webhook endpoints.")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        business_id=business_id,
        url=url,
        description=description.strip(),
        events=chosen,
        secret=secret,
        created_at=at,
        deleted_at=None,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def _events(events: Sequence[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            f"Unknown event {unknown[0]!r}: use any of " + ", ".join(EVENT_TYPES) + ".",
            field="events",
        )
    if not events:
        raise InvalidInput("Choose at least one event.", field="events")
    return [e for e in EVENT_TYPES if e in events]  # in the catalogue's order, once each


def list_endpoints(session: Session, business_id: int) -> list[WebhookEndpoint]:
    return queries.live_endpoints(session, business_id)


def get_endpoint(session: Session, business_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = queries.live_endpoint(session, business_id, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delete_endpoint(session: Session, business_id: int, endpoint_id: int, at: datetime) -> None:
    """Stop sending to it: what it has not been delivered yet is cancelled; its log stays."""
    endpoint = get_endpoint(session, business_id, endpoint_id)
    endpoint.deleted_at = at
    queries.cancel_pending(session, endpoint.id)
    session.flush()


def deliveries(
    session: Session,
    business_id: int,
    endpoint_id: int,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, business_id, endpoint_id)
    return queries.deliveries_of(session, business_id, endpoint.id, limit, before_id)


def purge_delivery_log(session: Session, at: datetime) -> int:
    """Forget settled deliveries older than KEEP_LOG_FOR (the worker's periodic purge)."""
    return queries.delete_settled_before(session, at - KEEP_LOG_FOR)


def send_again(
    session: Session, business_id: int, endpoint_id: int, delivery_id: int, at: datetime
) -> WebhookDelivery:
    """Deliver it again now (same event id and body), retried for another 24 hours."""
    endpoint = get_endpoint(session, business_id, endpoint_id)
    delivery = queries.locked_delivery(session, business_id, endpoint.id, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery.")
    delivery.state = DELIVERY_PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = at
    delivery.claimed_at = None
    delivery.give_up_at = at + RETRY_FOR
    session.flush()
    return delivery
