"""Bulk sends: one text, written with template variables, to many clients (chosen ones, or a
filter over the All Clients report). Before it goes, staff see whom it reaches, whom it skips
and why, and the units it uses against what the plan has left; a hard-stop plan refuses a
send that does not fit, with those numbers. Its messages go through compose.queue_messages,
as every send does (consent, switches, content rules, allowance, quiet hours), and carry the
bulk send's id: its progress is read from them, and cancelling withdraws the ones still
waiting. Creating one is idempotent on the creator's key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.businesses import usage
from messagecenter.businesses.billing import units_for
from messagecenter.campaigns import queries
from messagecenter.clients.queries import ClientContact
from messagecenter.consent import service as consent
from messagecenter.errors import AllowanceExhausted, Conflict, DomainError, InvalidInput, NotFound
from messagecenter.models import BulkSend, Business
from messagecenter.models.bulk_send import BULK_CANCELLED, BULK_SCHEDULED, BULK_SENT
from messagecenter.models.status import CANCELED, DELIVERED, FAILED, QUEUED, UNDELIVERED
from messagecenter.notifications import service as notifications
from messagecenter.notifications.templates import BookingData, Recipient, check_variables, render
from messagecenter.sending import service as sending
from messagecenter.sending.compose import (
    CATEGORY_SWITCHES,
    MAX_BODY_CHARACTERS,
    Outgoing,
    queue_messages,
)
from messagecenter.sending.compose import Sender as MessageSender
from messagecenter.sms.content_rules import active_rules

# News and offers; word about the business itself; a personal text (a scheduled message to
# one client): no notification switch applies to it, consent and quiet hours do.
CATEGORIES = ("marketing", "account", "personal")
MAX_AHEAD = timedelta(days=366)
VARIABLES = ("Firstname", "Lastname", "Fullname", "BusinessName", "BusinessPhone", "SmsNumber")
MAX_REQUEST_KEY = 100
CHUNK = 1000  # recipients queued per queue_messages call (one insert of each kind)

# Why a client of the audience gets no text: the API's word, then the page's words.
SKIP_REASONS = {
    "no_cell_phone": "no valid cell phone",
    "unsubscribed": "unsubscribed",
    "switched_off": "switched this kind of text off",
    "frequency_cap": "blocked by the frequency cap",
    "same_phone": "share a cell phone with another client of this send",
    "missing_value": "lack a value the text uses",
    "allowance_exhausted": "over the plan's limit",
}
WITHDRAWN_REASON = "Withdrawn before it was sent: the bulk send was cancelled."

Subscription = Literal["any", "subscribed", "unsubscribed"]


@dataclass(frozen=True)
class AudienceFilter:
    """A filter over the All Clients report; each part narrows it, none given: everyone.
    Dates are days in the business's time zone, both ends included."""

    can_receive: bool = False  # only clients whose cell phone takes texts
    subscription: Subscription = "any"
    marketing_on: bool = False  # only clients with marketing texts switched on
    created_from: date | None = None
    created_to: date | None = None
    last_texted_from: date | None = None
    last_texted_to: date | None = None


@dataclass(frozen=True)
class Audience:
    """Chosen clients (by id) or a filter."""

    client_ids: tuple[int, ...] | None = None
    filter: AudienceFilter = field(default_factory=AudienceFilter)

    def as_json(self) -> dict[str, Any]:
        if self.client_ids is not None:
            return {"client_ids": list(self.client_ids)}
        chosen = {k: v for k, v in vars(self.filter).items() if v not in (None, False, "any")}
        return {"filter": {k: str(v) if isinstance(v, date) else v for k, v in chosen.items()}}


@dataclass
class Reach:
    """Whom a bulk send reaches (each with the text they get) and whom it skips, by reason,
    before anything is written; the units it needs against what the plan has left."""

    texts: list[tuple[ClientContact, str]]
    skipped: dict[str, int]
    units: int
    remaining: int | None  # units left before sends are refused; None: no limit

    @property
    def fits(self) -> bool:
        return self.remaining is None or self.units <= self.remaining

    def refusal(self) -> AllowanceExhausted:
        units = f"{self.units:,} unit" + ("" if self.units == 1 else "s")
        return AllowanceExhausted(
            f"This send needs {units} and the plan has {self.remaining or 0:,} left this "
            "month: choose fewer clients, or ask for the plan to be raised."
        )


@dataclass(frozen=True)
class Progress:
    queued: int  # waiting in the outbox
    sent: int  # handed to the carrier, not yet delivered
    delivered: int
    failed: int
    cancelled: int  # withdrawn by a cancel
    skipped: int


MAX_CAP_DAYS = 365


def set_marketing_cap(business: Business, texts: int | None, days: int) -> None:
    """At most `texts` marketing texts to one client in `days` days (None: no cap); bulk
    sends skip the clients it blocks."""
    if texts is not None and not 1 <= texts <= 1000:
        raise InvalidInput(
            "Give a number of texts from 1 to 1,000, or none.", field="marketing_cap"
        )
    if not 1 <= days <= MAX_CAP_DAYS:
        raise InvalidInput(
            f"Give a number of days from 1 to {MAX_CAP_DAYS}.", field="marketing_cap_days"
        )
    business.marketing_cap = texts
    business.marketing_cap_days = days


def check_text(business: Business, body: str, category: str) -> None:
    """A bulk send's text as written: not empty, known variables only, not over the length,
    not against a content rule (each rendered text is checked again as it is queued)."""
    if category not in CATEGORIES:
        raise InvalidInput(f"Choose the kind of text: {', '.join(CATEGORIES)}.", field="category")
    if not body.strip():
        raise InvalidInput("Write the text to send.", field="body")
    if len(body) > MAX_BODY_CHARACTERS:
        raise InvalidInput(
            f"The text is {len(body):,} characters; the limit is {MAX_BODY_CHARACTERS:,}.",
            field="body",
        )
    check_variables(body, VARIABLES, "a bulk send")
    active_rules().check(body, business.country)


def reach(
    session: Session, business: Business, audience: Audience, body: str, category: str, at: datetime
) -> Reach:
    """Whom this text would reach now and whom it would skip, and why: no valid cell phone,
    unsubscribed (beats every switch), the category switched off, the marketing frequency
    cap, a phone already reached through another client, a variable with no value."""
    check_text(business, body, category)
    _check_audience(category, audience)
    sender = notifications.template_sender(session, business)
    if sender.sms_number == "":
        raise Conflict(
            "This business has no SMS number yet: enable Message Center and choose a number.",
            code="no_sms_number",
        )
    contacts = _audience(session, business, audience)
    phones = [c.cell_phone for c in contacts if c.cell_phone and not c.cell_phone_error]
    opted_out = consent.unsubscribed_among(session, business.id, phones)
    capped = _capped(session, business, category, at)
    switch = CATEGORY_SWITCHES.get(category)
    skipped: Counter[str] = Counter()
    texts: list[tuple[ClientContact, str]] = []
    reached: set[str] = set()
    for contact in contacts:
        phone = contact.cell_phone
        if not phone or contact.cell_phone_error:
            skipped["no_cell_phone"] += 1
        elif phone in opted_out:
            skipped["unsubscribed"] += 1
        elif switch is not None and not getattr(contact, switch):
            skipped["switched_off"] += 1
        elif phone in capped:
            skipped["frequency_cap"] += 1
        elif phone in reached:
            skipped["same_phone"] += 1
        else:
            try:
                text = render(body, Recipient(contact.first_name, contact.last_name), sender,
                              BookingData())  # fmt: skip
            except InvalidInput:
                skipped["missing_value"] += 1
                continue
            reached.add(phone)
            texts.append((contact, text))
    units = len(texts) * units_for(has_media=False)
    return Reach(texts, dict(skipped), units, usage.sends_left(session, business, at))


def create(
    session: Session,
    business: Business,
    *,
    request_key: str,
    body: str,
    category: str,
    audience: Audience,
    sender: MessageSender,
    at: datetime,
    send_at: datetime | None = None,
) -> tuple[BulkSend, bool]:
    """Send the text to the audience now, or schedule it for `send_at`: the bulk send and
    whether it was already there (the same key answers the send it made, and sends nothing).
    Sending now is refused, nothing written, when the plan has a hard limit the send does not
    fit in; a scheduled send is checked again, whole, when it goes."""
    key = request_key.strip()
    if not key or len(key) > MAX_REQUEST_KEY:
        raise InvalidInput(
            f"Give a key for this send of 1 to {MAX_REQUEST_KEY} characters.", field="request_key"
        )
    found = queries.bulk_send_by_key(session, business.id, key)
    if found is not None:
        return _replayed(found, body, category, audience), True
    _check_send_at(send_at, at)
    if send_at is None:
        _take_turns_under_the_cap(session, business, category)
    planned = reach(session, business, audience, body, category, at)
    if send_at is None and not planned.fits:
        raise planned.refusal()
    new_id = queries.claim_request_key(
        session,
        {
            "business_id": business.id,
            "request_key": key,
            "body": body,
            "category": category,
            "audience": audience.as_json(),
            "status": BULK_SENT if send_at is None else BULK_SCHEDULED,
            "send_at": send_at,
            "staff_member_id": sender.staff_member_id,
            "api_key_id": sender.api_key_id,
            "recipients": 0,
            "units": 0,
            "skipped": planned.skipped,
            "created_at": at,
            "updated_at": at,
            "sent_at": at if send_at is None else None,
            "cancelled_at": None,
        },
    )
    if new_id is None:  # a twin with the same key (a double click) was written first
        twin = queries.bulk_send_by_key(session, business.id, key)
        assert twin is not None
        return _replayed(twin, body, category, audience), True
    bulk = session.get(BulkSend, new_id)
    assert bulk is not None
    if send_at is None:
        _queue(session, business, bulk, planned, sender, at)
    return bulk, False


def _replayed(found: BulkSend, body: str, category: str, audience: Audience) -> BulkSend:
    """The send a key already made, when this request asks for the same one."""
    if (found.body, found.category, found.audience) != (body, category, audience.as_json()):
        raise Conflict(
            "This key was used for another bulk send: use a new key for a new send.",
            code="key_reused",
        )
    return found


def reschedule(
    session: Session,
    business: Business,
    bulk_send_id: int,
    *,
    at: datetime,
    body: str | None = None,
    category: str | None = None,
    audience: Audience | None = None,
    send_at: datetime | None = None,
) -> BulkSend:
    """Change a scheduled send's text, kind, audience or time (each one given) until it goes;
    one that has gone, or was cancelled, is a 409."""
    bulk = queries.get_bulk_send(session, business.id, bulk_send_id, for_update=True)
    if bulk is None:
        raise NotFound("No such bulk send.")
    if bulk.status != BULK_SCHEDULED:
        raise Conflict(f"This send is {bulk.status}: only a scheduled one can change.",
                       code="not_scheduled")  # fmt: skip
    body = bulk.body if body is None else body
    category = bulk.category if category is None else category
    check_text(business, body, category)
    _check_audience(category, audience or audience_of(bulk))
    if send_at is not None:
        _check_send_at(send_at, at)
        bulk.send_at = send_at
    if audience is not None:
        bulk.audience = audience.as_json()
    bulk.body, bulk.category, bulk.updated_at = body, category, at
    session.flush()
    return bulk


def send_due(session: Session, at: datetime) -> int:
    """Send the scheduled send due longest ago, if any (the worker's pass): consent,
    switches, the frequency cap and the allowance are checked now, as it goes (a text the
    plan no longer has room for is skipped and counted). Returns how many went (0 or 1)."""
    bulk = queries.lock_due(session, at)
    if bulk is None:
        return 0
    business = session.get(Business, bulk.business_id)
    assert business is not None
    _take_turns_under_the_cap(session, business, bulk.category)
    try:
        planned = reach(session, business, audience_of(bulk), bulk.body, bulk.category, at)
    except DomainError as refused:  # e.g. the number was released since: it cannot go
        bulk.status, bulk.cancelled_at, bulk.updated_at = BULK_CANCELLED, at, at
        bulk.skipped = {refused.code: 1}
        session.flush()
        return 1
    bulk.status, bulk.sent_at, bulk.updated_at = BULK_SENT, at, at
    _queue(session, business, bulk, planned, _sender_of(bulk), at)
    return 1


def audience_of(bulk: BulkSend) -> Audience:
    """The audience as stored (Audience.as_json's shape)."""
    if "client_ids" in bulk.audience:
        return Audience(client_ids=tuple(int(i) for i in bulk.audience["client_ids"]))
    chosen = dict(bulk.audience.get("filter", {}))
    for name in ("created_from", "created_to", "last_texted_from", "last_texted_to"):
        if name in chosen:
            chosen[name] = date.fromisoformat(chosen[name])
    return Audience(filter=AudienceFilter(**chosen))


def _sender_of(bulk: BulkSend) -> MessageSender:
    if bulk.staff_member_id is not None:
        return MessageSender.staff(bulk.staff_member_id)
    if bulk.api_key_id is not None:
        return MessageSender.api_key(bulk.api_key_id)
    return MessageSender.automated()


def wall_clock_moment(business: Business, day: date, clock: time) -> datetime:
    """The moment the business's clocks show `clock` on `day` (a form's date and time), as
    the wall says across DST changes: a time the clocks skip (02:30 on the spring-forward
    night) is the moment an hour later by the old offset, i.e. 03:30 by the new one; a time
    they show twice (01:30 on the fall-back night) is the first."""
    return datetime.combine(day, clock, ZoneInfo(business.timezone)).astimezone(UTC)


def _check_audience(category: str, audience: Audience) -> None:
    """A personal text goes to one client (a promotion to many is marketing)."""
    if category == "personal" and (audience.client_ids is None or len(audience.client_ids) != 1):
        raise InvalidInput(
            "A personal text goes to one chosen client; to text many, choose marketing or "
            "about the business.",
            field="category",
        )


def _check_send_at(send_at: datetime | None, at: datetime) -> None:
    if send_at is None:
        return
    if send_at.tzinfo is None:
        raise InvalidInput("send_at needs a time zone (e.g. Z or +01:00).", field="send_at")
    if send_at <= at:
        raise InvalidInput("Choose a time still to come.", field="send_at")
    if send_at - at > MAX_AHEAD:
        raise InvalidInput("A send may be scheduled at most a year ahead.", field="send_at")


def _queue(
    session: Session,
    business: Business,
    bulk: BulkSend,
    planned: Reach,
    sender: MessageSender,
    at: datetime,
) -> None:
    """Queue the planned texts a chunk at a time; a text compose refuses (a consent or
    allowance change since the preview, a rendered text against a content rule) is counted
    with the skips by its code."""
    skipped = Counter(planned.skipped)
    queued = 0
    for start in range(0, len(planned.texts), CHUNK):
        chunk = planned.texts[start : start + CHUNK]
        category = bulk.category if bulk.category in CATEGORY_SWITCHES else None
        outgoing = [
            Outgoing(text, client=contact, category=category, bulk_send_id=bulk.id,
                     quiet_hours=True)
            for contact, text in chunk
        ]  # fmt: skip
        for result in queue_messages(session, business, outgoing, sender=sender, at=at):
            if isinstance(result, DomainError):
                skipped[result.code] += 1
            else:
                queued += 1
    bulk.recipients = queued
    bulk.units = queued * units_for(has_media=False)
    bulk.skipped = dict(skipped)
    session.flush()


def cancel(session: Session, business: Business, bulk_send_id: int, at: datetime) -> BulkSend:
    """Withdraw what has not gone yet (its units come back); what the carrier has stays
    sent. A cancelled send stays cancelled (a second cancel changes nothing)."""
    bulk = queries.get_bulk_send(session, business.id, bulk_send_id, for_update=True)
    if bulk is None:
        raise NotFound("No such bulk send.")
    if bulk.status == BULK_CANCELLED:
        return bulk
    # A scheduled one has no messages yet; a sent one's waiting ones are withdrawn.
    waiting = queries.pending_message_ids(session, bulk.id)
    sending.withdraw_pending(session, waiting, WITHDRAWN_REASON, at)
    bulk.status = BULK_CANCELLED
    bulk.cancelled_at = at
    bulk.updated_at = at
    session.flush()
    return bulk


def get(session: Session, business: Business, bulk_send_id: int) -> BulkSend:
    found = queries.get_bulk_send(session, business.id, bulk_send_id)
    if found is None:
        raise NotFound("No such bulk send.")
    return found


def recent(session: Session, business: Business, limit: int = 50) -> list[BulkSend]:
    return queries.list_bulk_sends(session, business.id, limit=limit)


def scheduled(session: Session, business: Business) -> list[BulkSend]:
    """Every send still to go, the soonest first (the Scheduled list)."""
    return queries.scheduled_sends(session, business.id)


def progress(session: Session, sends: list[BulkSend]) -> dict[int, Progress]:
    """Where each send's messages stand, counted from them in one read."""
    counts = queries.message_statuses(session, [s.id for s in sends])
    found = {}
    for bulk in sends:
        by_status = counts[bulk.id]
        failed = by_status.get(FAILED, 0) + by_status.get(UNDELIVERED, 0)
        queued = by_status.get(QUEUED, 0)
        delivered = by_status.get(DELIVERED, 0)
        cancelled = by_status.get(CANCELED, 0)
        total = sum(by_status.values())
        found[bulk.id] = Progress(
            queued=queued,
            sent=total - queued - delivered - failed - cancelled,
            delivered=delivered,
            failed=failed,
            cancelled=cancelled,
            skipped=sum(bulk.skipped.values()),
        )
    return found


def _audience(session: Session, business: Business, audience: Audience) -> list[ClientContact]:
    chosen = audience.filter
    zone = ZoneInfo(business.timezone)
    return queries.audience_contacts(
        session,
        business.id,
        client_ids=audience.client_ids,
        can_receive=chosen.can_receive,
        subscription=chosen.subscription,
        marketing_on=chosen.marketing_on,
        created=_days(chosen.created_from, chosen.created_to, zone),
        last_texted=_days(chosen.last_texted_from, chosen.last_texted_to, zone),
    )


def _days(
    first: date | None, last: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """From the start of `first` to the end of `last`, in the business's zone."""
    if first is not None and last is not None and last < first:
        raise InvalidInput("The range ends before it starts.", field="audience")
    since = datetime.combine(first, time(), zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), zone) if last else None
    return since, until


def _take_turns_under_the_cap(session: Session, business: Business, category: str) -> None:
    """Two marketing sends going at once would each count a client's texts without the
    other's and together pass the cap: they take turns on the business's row, and the later
    one counts the earlier one's texts."""
    if category == "marketing" and business.marketing_cap is not None:
        business_queries.lock_business(session, business.id)


def _capped(session: Session, business: Business, category: str, at: datetime) -> set[str]:
    """The phones the marketing frequency cap blocks now (none for other kinds of text)."""
    if category != "marketing" or business.marketing_cap is None:
        return set()
    since = at - timedelta(days=business.marketing_cap_days)
    counts = queries.marketing_counts(session, business.id, since)
    return {phone for phone, count in counts.items() if count >= business.marketing_cap}
