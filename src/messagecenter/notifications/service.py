"""Triggering notifications: a booking system names a type, a client, a reference (its
booking) and the data for the variables; each trigger ends queued (its message made by
sending.compose.send_messages, like every send) or skipped with its reason in words, and is
recorded either way.

A notification is identified by (business, type, reference, due time): a retry finds the
one there is and sends nothing. The same type and reference with a new due time or new data
replaces one whose message has not gone yet (withdrawn from the outbox, units given back);
`cancel` withdraws it. A whole batch is done set-wise (a handful of statements for 1,000).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.clients import queries as client_queries
from messagecenter.clients.phone import parse_phone
from messagecenter.clients.queries import ClientContact
from messagecenter.consent import service as consent
from messagecenter.conversations import queries as conversation_queries
from messagecenter.errors import ClientUnsubscribed, DomainError, InvalidInput, NotFound
from messagecenter.integrations import service as webhooks
from messagecenter.models import (
    Business,
    Message,
    Notification,
    NotificationTemplate,
    StaffMember,
)
from messagecenter.models.message import DISPATCH_PENDING
from messagecenter.models.notification import (
    DUE_NOW,
    NOTIFICATION_CANCELLED,
    NOTIFICATION_QUEUED,
    NOTIFICATION_SKIPPED,
    NotificationRecord,
)
from messagecenter.models.status import CANCELED, FAILED, QUEUED, UNDELIVERED
from messagecenter.notifications import queries
from messagecenter.notifications.catalogue import (
    AFTER_HOURS,
    KEYWORD_ANSWERS,
    TYPES,
    NotificationType,
    get_type,
)
from messagecenter.notifications.templates import (
    BookingData,
    Recipient,
    check_template,
    render,
    sample,
)
from messagecenter.notifications.templates import Sender as TemplateSender
from messagecenter.sending import service as sending
from messagecenter.sending.compose import (
    CATEGORY_SWITCHES,
    MAX_BODY_CHARACTERS,
    Outgoing,
    Sender,
    queue_messages,
    send_messages,
)
from messagecenter.sms.content_rules import active_rules
from messagecenter.sms.keywords import Keyword

MAX_SCHEDULE_AHEAD = timedelta(days=366)

# Why a notification was skipped, as the API names it (the reason in words goes beside it).
NO_CELL_PHONE = "no_cell_phone"
UNSUBSCRIBED = "unsubscribed"
TYPE_OFF = "type_off"
CATEGORY_OFF = "category_off"
NO_SMS_NUMBER = "no_sms_number"
REPLACED = "replaced"
CANCELLED_BY_CALLER = "cancelled"

# Shown on the message itself (the notification keeps its own reason).
WITHDRAWN_REASON = "Withdrawn before it was sent: the notification was replaced or cancelled."


@dataclass(frozen=True)
class Trigger:
    """One request to notify: `client_id` or `cell_phone` names the client; `data` holds the
    booking variables' values (booking_at as an aware datetime, service, staff_name,
    location). With `cancel`, the pending notifications of this type and reference are
    withdrawn instead (no client or data needed)."""

    type: str
    reference: str
    client_id: int | None = None
    cell_phone: str | None = None
    data: BookingData = field(default_factory=BookingData)
    send_at: datetime | None = None
    cancel: bool = False


@dataclass
class Outcome:
    """What became of one trigger: its notification (new, redone, or the one a retry found),
    the ones a cancel withdrew, or the refusal (nothing recorded)."""

    notification: Notification | NotificationRecord | None = None
    replayed: bool = False  # an existing notification answered; nothing new was sent
    cancelled: list[Notification] = field(default_factory=list)
    error: DomainError | None = None


@dataclass(frozen=True)
class TemplateView:
    kind: NotificationType
    enabled: bool
    body: str
    customised: bool


# --- templates ---------------------------------------------------------------------------


def templates(session: Session, business: Business) -> list[TemplateView]:
    """Every type with the business's switch and wording (the default where it has none)."""
    rows = queries.templates_of(session, business.id)
    return [_view(kind, rows.get(kind.name)) for kind in TYPES.values()]


def _view(kind: NotificationType, row: NotificationTemplate | None) -> TemplateView:
    if row is None:
        return TemplateView(kind, True, kind.default_body, False)
    body = row.body if row.body is not None else kind.default_body
    return TemplateView(kind, row.enabled, body, row.body is not None)


def save_template(
    session: Session,
    business: Business,
    type_name: str,
    *,
    enabled: bool | None,
    body: str | None,
    reset_body: bool,
    at: datetime,
) -> TemplateView:
    """Switch a type on or off and/or change its wording (`reset_body` returns to the
    default). A body with a variable the type cannot have is refused, listing the allowed."""
    kind = get_type(type_name)
    if enabled is False and kind.answers_keyword:
        raise InvalidInput(
            f"{kind.label} cannot be switched off: where the app answers keywords, a client "
            "who texts one must get an answer.",
            field="enabled",
        )
    current = _view(kind, queries.templates_of(session, business.id).get(kind.name))
    stored: str | None = body if current.customised else None
    if reset_body:
        stored = None
    elif body is not None:
        check_template(kind, body)
        active_rules().check(body, business.country)  # refused when saved, not when sent
        stored = body
    elif current.customised:
        stored = current.body
    row = queries.save_template(
        session,
        business.id,
        kind.name,
        current.enabled if enabled is None else enabled,
        stored,
        at,
    )
    return _view(kind, row)


def preview(session: Session, business: Business, type_name: str, body: str, at: datetime) -> str:
    """A template (checked as when saved) filled with sample data."""
    kind = get_type(type_name)
    check_template(kind, body)
    return sample(body, template_sender(session, business), at + timedelta(days=1))


def send_test(
    session: Session,
    business: Business,
    staff: StaffMember,
    type_name: str,
    body: str,
    at: datetime,
) -> Message:
    """The template as typed (checked as when saved), filled with the sample data, sent to the
    staff member's own cell phone through the same path as every send: it is queued like a
    staff reply, uses a unit, and shows in that phone's conversation."""
    if not staff.cell_phone:
        raise InvalidInput("Add your cell phone first: a test goes there.", field="cell_phone")
    text = preview(session, business, type_name, body, at)
    conversation = conversation_queries.ensure_conversation(
        session, business.id, staff.cell_phone, None, at
    )
    (result,) = send_messages(
        session,
        business,
        [Outgoing(text, conversation=conversation)],
        sender=Sender.staff(staff.id),
        at=at,
    )
    if isinstance(result, DomainError):
        raise result
    return result


def keyword_answer(session: Session, business: Business, keyword: Keyword) -> str:
    """The business's own answer to a keyword, for numbers where the app (not the carrier)
    answers: its opt-out or opt-in confirmation or help text, as worded in Settings. Always
    sent there, whatever its switch once said: a keyword must be answered."""
    kind = TYPES[KEYWORD_ANSWERS[keyword]]
    view = _view(kind, queries.templates_of(session, business.id).get(kind.name))
    sender = template_sender(session, business)
    try:
        return render(view.body, Recipient("", ""), sender, BookingData())
    except InvalidInput:  # a value it needs is blank: the answer must still go
        return render(kind.default_body, Recipient("", ""), sender, BookingData())


def after_hours_answer(session: Session, business: Business) -> str | None:
    """The business's answer to a text out of its hours, as worded in Settings; None when
    its switch is off."""
    kind = TYPES[AFTER_HOURS]
    view = _view(kind, queries.templates_of(session, business.id).get(kind.name))
    if not view.enabled:
        return None
    sender = template_sender(session, business)
    try:
        return render(view.body, Recipient("", ""), sender, BookingData())
    except InvalidInput:  # a business value it names is blank: the default wording goes
        return render(kind.default_body, Recipient("", ""), sender, BookingData())


# --- triggering --------------------------------------------------------------------------


@dataclass
class _Item:
    """A trigger under way: what it resolved to, and where it stands."""

    index: int
    trigger: Trigger
    kind: NotificationType
    due_key: str
    data: dict[str, Any]
    client: ClientContact | None = None
    body: str = ""
    existing: Notification | None = None  # the same key, to be redone in place


def trigger_many(
    session: Session, business: Business, triggers: Sequence[Trigger], at: datetime
) -> list[Outcome]:
    """Each trigger's outcome, in order, all in the caller's transaction. A refused trigger
    (unknown type or client, a variable the data lacks) records nothing and stops no other."""
    outcomes = [Outcome() for _ in triggers]
    items = _resolve(session, business, triggers, at, outcomes)
    existing = queries.notifications_for(
        session, business.id, {(i.kind.name, i.trigger.reference) for i in items}
    )
    by_key = {(n.type, n.reference, n.due_key): n for n in existing}
    cancels = [i for i in items if i.trigger.cancel]
    sends: list[_Item] = []
    for item in items:
        if item.trigger.cancel:
            continue
        found = by_key.get((item.kind.name, item.trigger.reference, item.due_key))
        if found is not None and not _changed(found, item):
            outcomes[item.index] = Outcome(found, replayed=True)
            continue
        if found is not None and _gone(session, found):
            outcomes[item.index] = Outcome(found, replayed=True)  # never sent twice
            continue
        item.existing = found
        sends.append(item)
    withdrawn = _withdraw_replaced(session, business, existing, sends, cancels, at)
    _send(session, business, sends, at, outcomes)
    for item in cancels:
        outcomes[item.index] = Outcome(cancelled=[n for n in withdrawn if _same_booking(n, item)])
    for item in sends:
        replaced = [n for n in withdrawn if _same_booking(n, item)]
        done = outcomes[item.index].notification
        for each in replaced:
            if done is not None and each.id != done.id:
                each.reason = f"Replaced by notification {done.id} before it was sent."
    session.flush()
    return outcomes


def _resolve(
    session: Session,
    business: Business,
    triggers: Sequence[Trigger],
    at: datetime,
    outcomes: list[Outcome],
) -> list[_Item]:
    """The checks that need no notification: type, client (this business's only), due time,
    the rendered text. A refusal is written into `outcomes`."""
    by_id = client_queries.contacts_by_id(
        session, business.id, (t.client_id for t in triggers if t.client_id is not None)
    )
    phones: dict[int, str] = {}
    for index, trigger in enumerate(triggers):
        if trigger.client_id is None and trigger.cell_phone is not None and not trigger.cancel:
            try:
                phones[index] = parse_phone(trigger.cell_phone, business.country, field="client")
            except DomainError as refused:
                outcomes[index].error = refused
    by_phone = client_queries.contacts_by_cell_phone(session, business.id, phones.values())
    template_rows = queries.templates_of(session, business.id)
    sender = template_sender(session, business)
    seen: dict[tuple[str, str], int] = {}
    items: list[_Item] = []
    for index, trigger in enumerate(triggers):
        if outcomes[index].error is not None:
            continue
        try:
            kind = get_type(trigger.type)
            if not kind.triggerable:
                raise InvalidInput(
                    f"{kind.label} is sent by the app itself when a client texts a keyword; "
                    "it cannot be triggered.",
                    field="type",
                )
            if not trigger.reference.strip():
                raise InvalidInput("Give the booking's reference.", field="reference")
            pair = (kind.name, trigger.reference)
            if pair in seen:
                raise InvalidInput(
                    f"Item {seen[pair]} of this batch already has this type and reference: "
                    "send one per booking.",
                    field="reference",
                )
            seen[pair] = index
            item = _Item(index, trigger, kind, _due_key(trigger.send_at, at), _data(trigger))
            if not trigger.cancel:
                item.client = _client(trigger, by_id, by_phone.get(phones.get(index, "")))
                view = _view(kind, template_rows.get(kind.name))
                if sender.sms_number:
                    item.body = render(view.body, _recipient(item.client), sender, trigger.data)
                    if len(item.body) > MAX_BODY_CHARACTERS:
                        raise InvalidInput(
                            f"The rendered text is {len(item.body):,} characters; the limit is "
                            f"{MAX_BODY_CHARACTERS:,}. Shorten the template or the data.",
                            field="data",
                        )
        except DomainError as refused:
            outcomes[index].error = refused
            continue
        items.append(item)
    return items


def _client(
    trigger: Trigger, by_id: dict[int, ClientContact], with_phone: list[ClientContact] | None
) -> ClientContact:
    if trigger.client_id is not None:
        found = by_id.get(trigger.client_id)
        if found is None:
            raise NotFound("No such client.", field="client_id")
        return found
    if trigger.cell_phone is None:
        raise InvalidInput("Say who to notify: client_id or cell_phone.", field="client_id")
    if not with_phone:
        raise NotFound("No client has this cell phone.", field="cell_phone")
    if len(with_phone) > 1:
        raise InvalidInput(
            f"{len(with_phone)} clients have this cell phone: give client_id instead.",
            field="cell_phone",
        )
    return with_phone[0]


def _due_key(send_at: datetime | None, at: datetime) -> str:
    if send_at is None:
        return DUE_NOW
    if send_at.tzinfo is None:
        raise InvalidInput("send_at needs a time zone (e.g. Z or +01:00).", field="send_at")
    if send_at - at > MAX_SCHEDULE_AHEAD:
        raise InvalidInput("send_at may be at most a year ahead.", field="send_at")
    return _utc_key(send_at)


@lru_cache(maxsize=1024)  # a batch's reminders mostly share their send_at
def _utc_key(send_at: datetime) -> str:
    return send_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _data(trigger: Trigger) -> dict[str, Any]:
    """The trigger's data as stored (and compared on a retry): only the values given."""
    data = trigger.data
    stored: dict[str, Any] = {}
    if data.booking_at is not None:
        stored["booking_at"] = data.booking_at.astimezone(UTC).isoformat()
    for name in ("service", "staff_name", "location"):
        value = getattr(data, name)
        if value is not None:
            stored[name] = value
    return stored


def _changed(found: Notification, item: _Item) -> bool:
    """Whether a trigger with an existing key says something new (a changed booking)."""
    assert item.client is not None
    return found.client_id != item.client.id or _canonical(found.data) != _canonical(item.data)


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


def _gone(session: Session, notification: Notification) -> bool:
    """Its message has left the outbox (or is leaving it): it can no longer be replaced."""
    if notification.status != NOTIFICATION_QUEUED or notification.message_id is None:
        return False
    state = queries.message_states(session, [notification.message_id])[notification.message_id]
    return state.dispatch_state != DISPATCH_PENDING or state.status != QUEUED


def _same_booking(notification: Notification, item: _Item) -> bool:
    return notification.type == item.kind.name and notification.reference == item.trigger.reference


def _due_at(send_at: datetime | None, at: datetime) -> datetime | None:
    """When the message may go: its send_at if that is still to come, else now."""
    return send_at if send_at is not None and send_at > at else None


def _withdraw_replaced(
    session: Session,
    business: Business,
    existing: list[Notification],
    sends: list[_Item],
    cancels: list[_Item],
    at: datetime,
) -> list[Notification]:
    """Withdraw the queued notifications that these sends replace (same type and reference;
    a redone one included) or these cancels name, where their message has not gone: their
    messages leave the outbox, their units come back. The ones withdrawn."""
    pairs = {(i.kind.name, i.trigger.reference) for i in sends + cancels}
    candidates = [
        n
        for n in existing
        if (n.type, n.reference) in pairs
        and n.status == NOTIFICATION_QUEUED
        and n.message_id is not None
    ]
    message_ids = [n.message_id for n in candidates if n.message_id is not None]
    taken = sending.withdraw_pending(session, message_ids, WITHDRAWN_REASON, at)
    withdrawn = [n for n in candidates if n.message_id in taken]
    cancelling = {(i.kind.name, i.trigger.reference) for i in cancels}
    for notification in withdrawn:
        notification.status = NOTIFICATION_CANCELLED
        notification.updated_at = at
        if (notification.type, notification.reference) in cancelling:
            notification.reason_code = CANCELLED_BY_CALLER
            notification.reason = "Cancelled by the booking system before it was sent."
        else:
            notification.reason_code = REPLACED
            notification.reason = "Replaced by a newer notification before it was sent."
    session.flush()
    return withdrawn


def _send(
    session: Session,
    business: Business,
    sends: list[_Item],
    at: datetime,
    outcomes: list[Outcome],
) -> None:
    """Record each send (claiming its key, or redoing its row), skip those held back, and queue
    the rest through queue_messages in one batch. The new notifications' outcomes are written
    in one statement and answered from what was written (nothing is read back)."""
    if not sends:
        return
    new = {i.index: _row(business, i, at) for i in sends if i.existing is None}
    claimed = queries.claim_keys(session, list(new.values()))
    ids: dict[int, int] = {}
    raced: list[_Item] = []
    for item in sends:
        key = (item.kind.name, item.trigger.reference, item.due_key)
        if item.existing is not None:
            ids[item.index] = item.existing.id
        elif key in claimed:
            ids[item.index] = claimed[key]
        else:
            raced.append(item)  # a concurrent twin recorded it first: answer that one
    live = [i for i in sends if i.index in ids]
    skips = _skips(session, business, live)
    to_queue = [i for i in live if i.index not in skips]
    results = queue_messages(
        session,
        business,
        [
            Outgoing(
                item.body,
                client=item.client,
                category=item.kind.category,
                due_at=_due_at(item.trigger.send_at, at),
                quiet_hours=True,
            )
            for item in to_queue
        ],
        sender=Sender.automated(),
        at=at,
    )
    # index: (status, reason code, reason, message id)
    settled: dict[int, tuple[str, str | None, str | None, int | None]] = {
        i.index: (NOTIFICATION_SKIPPED, *skips[i.index], None) for i in live if i.index in skips
    }
    for item, result in zip(to_queue, results, strict=True):
        if isinstance(result, int):
            settled[item.index] = (NOTIFICATION_QUEUED, None, None, result)
        else:
            code = UNSUBSCRIBED if isinstance(result, ClientUnsubscribed) else result.code
            settled[item.index] = (NOTIFICATION_SKIPPED, code, result.message, None)
    written: list[dict[str, Any]] = []
    for item in live:
        status, reason_code, reason, message_id = settled[item.index]
        if item.existing is not None:
            _redo(item.existing, item, status, reason_code, reason, message_id, at)
            outcomes[item.index] = Outcome(item.existing)
            continue
        outcome = {"status": status, "reason_code": reason_code, "reason": reason}
        written.append({**outcome, "notification_id": ids[item.index], "message_id": message_id})
        record = {**new[item.index], **outcome, "message_id": message_id}
        outcomes[item.index] = Outcome(NotificationRecord(id=ids[item.index], **record))
    queries.settle(session, written, at)
    # This batch's own outcomes only: a replayed one was announced when it was made.
    made = (outcomes[i.index].notification for i in live)
    webhooks.notifications_skipped(session, [n for n in made if n is not None], at)
    if raced:
        again = queries.notifications_for(
            session, business.id, {(i.kind.name, i.trigger.reference) for i in raced}
        )
        found = {(n.type, n.reference, n.due_key): n for n in again}
        for item in raced:
            outcomes[item.index] = Outcome(
                found[(item.kind.name, item.trigger.reference, item.due_key)], replayed=True
            )


def _row(business: Business, item: _Item, at: datetime) -> dict[str, Any]:
    assert item.client is not None
    return {
        "business_id": business.id,
        "type": item.kind.name,
        "category": item.kind.category,
        "reference": item.trigger.reference,
        "due_key": item.due_key,
        "send_at": item.trigger.send_at,
        "client_id": item.client.id,
        "data": item.data,
        "status": NOTIFICATION_QUEUED,
        "reason_code": None,
        "reason": None,
        "message_id": None,
        "created_at": at,
        "updated_at": at,
    }


def _redo(
    notification: Notification,
    item: _Item,
    status: str,
    code: str | None,
    reason: str | None,
    message_id: int | None,
    at: datetime,
) -> None:
    """The same key with new data: the row takes the new trigger and its outcome (its old
    message, if any, was withdrawn)."""
    assert item.client is not None
    notification.client_id = item.client.id
    notification.data = item.data
    notification.status = status
    notification.reason_code = code
    notification.reason = reason
    notification.message_id = message_id
    notification.updated_at = at


def _skips(session: Session, business: Business, items: list[_Item]) -> dict[int, tuple[str, str]]:
    """Why each of these is held back, by index, in this order: no valid cell phone, opted
    out (which beats every switch), the type switched off, the client's category switch off.
    Then the business's SMS number; the allowance is send_messages' to judge."""
    switches = {
        kind: view.enabled
        for kind, view in ((v.kind.name, v) for v in templates(session, business))
    }
    phones = [i.client.cell_phone for i in items if i.client and i.client.cell_phone]
    opted_out = consent.unsubscribed_among(session, business.id, phones)
    has_number = business_queries.active_number(session, business.id) is not None
    skips: dict[int, tuple[str, str]] = {}
    for item in items:
        client = item.client
        assert client is not None
        name = f"{client.first_name} {client.last_name}".strip()
        if not client.cell_phone or client.cell_phone_error:
            why = f" ({client.cell_phone_error})" if client.cell_phone_error else ""
            skips[item.index] = (NO_CELL_PHONE, f"{name} has no valid cell phone{why}.")
        elif client.cell_phone in opted_out:
            skips[item.index] = (UNSUBSCRIBED, opted_out[client.cell_phone].message)
        elif not switches[item.kind.name]:
            skips[item.index] = (
                TYPE_OFF,
                f"{item.kind.label} notifications are switched off for this business.",
            )
        elif not getattr(client, CATEGORY_SWITCHES[item.kind.category]):
            skips[item.index] = (
                CATEGORY_OFF,
                f"{name} has switched off SMS {item.kind.category} in their notification settings.",
            )
        elif not has_number:
            skips[item.index] = (
                NO_SMS_NUMBER,
                "This business has no SMS number yet: enable Message Center and choose one.",
            )
    return skips


def _recipient(client: ClientContact) -> Recipient:
    return Recipient(client.first_name, client.last_name or "")


def template_sender(session: Session, business: Business) -> TemplateSender:
    number = business_queries.active_number(session, business.id)
    return TemplateSender(
        name=business.name,
        business_phone=business.business_phone,
        sms_number=number.phone_number if number else "",
        timezone=business.timezone,
        country=business.country,
    )


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationView:
    notification: Notification | NotificationRecord
    status: str  # queued, sent, failed, skipped, cancelled
    message_status: str | None


def get_notification(session: Session, business_id: int, notification_id: int) -> Notification:
    found = queries.get_notification(session, business_id, notification_id)
    if found is None:
        raise NotFound("No such notification.")
    return found


def present(
    session: Session, notifications: Sequence[Notification | NotificationRecord]
) -> list[NotificationView]:
    """Each notification with where it stands: a queued one whose message has left is sent
    (or failed, when the carrier did not deliver it); its message's own status beside."""
    # One just recorded (trigger_many's answer) has its message just queued: nothing to read.
    fresh = {
        n.message_id
        for n in notifications
        if isinstance(n, NotificationRecord) and n.message_id is not None
    }
    states = queries.message_states(
        session,
        [
            n.message_id
            for n in notifications
            if n.message_id is not None and n.message_id not in fresh
        ],
    )
    views = []
    for notification in notifications:
        if notification.message_id in fresh:
            views.append(NotificationView(notification, notification.status, QUEUED))
            continue
        state = states.get(notification.message_id or 0)
        shown = notification.status
        if notification.status == NOTIFICATION_QUEUED and state is not None:
            if state.status in (FAILED, UNDELIVERED, CANCELED):
                shown = "failed"
            elif state.status != QUEUED:
                shown = "sent"
        views.append(NotificationView(notification, shown, state.status if state else None))
    return views
