"""What happens to an outbound message after it is queued: claims, carrier outcomes and
status reports. Statuses only move forward (messagecenter.sending.status); the SQL is in
sending/queries.py."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from messagecenter.businesses import billing, usage
from messagecenter.businesses import queries as business_queries
from messagecenter.carriers.base import (
    CarrierAccepted,
    CarrierFailure,
    OutboundSms,
    RecipientProblem,
    StatusReport,
)
from messagecenter.clients import queries as client_queries
from messagecenter.consent import service as consent
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.integrations import service as webhooks
from messagecenter.models import Business, Message
from messagecenter.models.consent import SOURCE_CARRIER_21610
from messagecenter.models.message import (
    DIRECTION_OUTBOUND,
    DISPATCH_ACCEPTED,
    DISPATCH_CLAIMED,
    DISPATCH_HELD,
    DISPATCH_PENDING,
    DISPATCH_REJECTED,
    DISPATCH_SENDING,
)
from messagecenter.sending import pacing, queries, quiet_holds, status
from messagecenter.sending.pacing import Slot

UNSUBSCRIBED_SINCE_QUEUED = (
    "Not sent: the client unsubscribed after it was queued. Their units were given back."
)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
LOOKUP_BACKOFF_MAX = timedelta(minutes=5)  # an unsettled message is asked about at least this often


# Where a message may be when an outcome for it arrives (a late answer, a callback).
_UNSETTLED = (DISPATCH_PENDING, DISPATCH_HELD, DISPATCH_CLAIMED, DISPATCH_SENDING)
# Handed to the carrier with no outcome: "claimed" is what dispatchers older than migration
# 0006 write, which call the carrier without marking the message first.
_AMBIGUOUS = (DISPATCH_SENDING, DISPATCH_CLAIMED)


@dataclass(frozen=True)
class Claimed:
    message_id: int
    sms: OutboundSms
    claimed_at: datetime  # with the id, names this claim: a released and re-taken one differs
    due_at: datetime | None = None  # when it became due (dispatch latency, metrics.py)
    slot: Slot | None = None  # when its number's pace lets it go (None: not paced)


# The carrier's status-callback URL for one of our message ids (None: it reports otherwise).
CallbackUrl = Callable[[int], str | None]


def claim_due(
    session: Session, at: datetime, limit: int, callback_url: CallbackUrl, *, paced: bool = False
) -> list[Claimed]:
    """Claim due messages from the outbox: they are held, and a hold alone never reaches the
    carrier: each message is marked sending (mark_sending, committed) before its call, so a
    hold left by a process that died can simply go back to the queue
    (release_expired_claims). Holds are "held", never "claimed": that is what dispatchers
    from before migration 0006 write, and it may have reached the carrier.

    Many workers share one queue: what another holds is skipped (queries.lock_due).
    Replies and transactional texts are claimed before bulk traffic. `paced`: each message
    gets its number's next send slot, and only what goes within pacing.HORIZON is claimed
    (sending/pacing.py).
    """
    due = queries.lock_due(session, at, limit, at + pacing.HORIZON if paced else None)
    if not due:
        return []
    # Consent is checked when a message goes, not only when it was queued (a reminder queued
    # for tomorrow must not reach a client who texted STOP tonight).
    unsubscribed = queries.opted_out_since_queued(session, [row.id for row in due])
    if unsubscribed:
        withdraw_pending(session, unsubscribed, UNSUBSCRIBED_SINCE_QUEUED, at)
        due = [row for row in due if row.id not in unsubscribed]
    # Quiet hours are judged again only for messages claimed after the window they were due
    # in closed (a reminder due at 20:59 and claimed at 21:03 waits for the morning).
    closed = [
        row.id for row in due if row.quiet_open_until is not None and row.quiet_open_until <= at
    ]
    if closed:
        waiting = quiet_holds.hold_claimed(session, closed, at)
        due = [row for row in due if row.id not in waiting]
    slots: dict[int, Slot] = {}
    if paced and due:
        slots = pacing.give_slots(session, [(row.id, row.from_phone) for row in due], at)
        due = [row for row in due if row.id in slots]
    if not due:
        return []
    queries.hold(session, [row.id for row in due], at)
    return [
        Claimed(row.id, outbound_sms(row, callback_url), at, row.next_attempt_at, slots.get(row.id))
        for row in due
    ]


def withdraw_pending(
    session: Session, message_ids: Collection[int], reason: str, at: datetime
) -> set[int]:
    """Take messages still waiting in the outbox out of it unsent: canceled, with `reason`
    shown where the message is, and their units given back (the carrier never had them).
    One a dispatcher already holds has gone, or is going: left alone. The ones withdrawn."""
    withdrawn = queries.withdraw_pending(session, message_ids, reason, at)
    businesses: dict[int, Business] = {}
    for message in withdrawn:
        if message.business_id not in businesses:
            business = business_queries.get_business(session, message.business_id)
            assert business is not None
            businesses[message.business_id] = business
        if message.units:
            usage.give_back(
                session, businesses[message.business_id], message.units, message.created_at
            )
        _queue_status_event(
            session,
            message.business_id,
            message.id,
            message.conversation_id,
            status.CANCELED,
            None,
            reason,
        )
    return {message.id for message in withdrawn}


def mark_sending(
    session: Session, claims: Sequence[Claimed], at: datetime, first_lookup_at: datetime
) -> list[Claimed]:
    """Record that these held messages are being handed to the carrier now; returns the ones
    that may be. A hold that is not ours any more expired and was released (and maybe taken
    by another worker): that message must not be sent from here."""
    if not claims:
        return []
    marked = queries.mark_sending(
        session, [c.message_id for c in claims], {c.claimed_at for c in claims}, at, first_lookup_at
    )
    return [replace(c, claimed_at=at) for c in claims if c.message_id in marked]


def renew_holds(session: Session, claims: Sequence[Claimed], at: datetime) -> list[Claimed]:
    """Renew the holds still waiting their turn in a batch (each carrier call may take the
    carrier's whole timeout): returns the ones still ours, under their new time."""
    if not claims:
        return []
    renewed = queries.renew_holds(
        session, [c.message_id for c in claims], {c.claimed_at for c in claims}, at
    )
    return [replace(c, claimed_at=at) for c in claims if c.message_id in renewed]


def release_claims(session: Session, claims: Sequence[Claimed], at: datetime) -> int:
    """Give back claims that were never handed to the carrier (a stop, a failed batch): they
    are due again at once. Returns how many went back."""
    if not claims:
        return 0
    return queries.release_holds(
        session, [c.message_id for c in claims], {c.claimed_at for c in claims}, at
    )


def release_expired_claims(session: Session, claimed_before: datetime, at: datetime) -> int:
    """Holds older than the claim timeout belong to a process that died (or stalled): their
    messages were never handed to the carrier, so they go back to the queue. A stalled owner
    cannot send them afterwards: mark_sending checks the hold is still its own. "claimed"
    (an old dispatcher's, maybe sent) is never released."""
    return queries.release_holds_before(session, claimed_before, at)


class _OutboxRow(Protocol):
    """What a carrier call needs of a message (a Message, or a row of its columns)."""

    @property
    def id(self) -> int: ...
    @property
    def from_phone(self) -> str: ...
    @property
    def to_phone(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def media_urls(self) -> list[str] | None: ...


def outbound_sms(message: _OutboxRow, callback_url: CallbackUrl) -> OutboundSms:
    return OutboundSms(
        message_id=message.id,
        from_phone=message.from_phone,
        to_phone=message.to_phone,
        body=message.body,
        media_urls=list(message.media_urls or []),
        status_callback_url=callback_url(message.id),
    )


def record_accepted(
    session: Session,
    message_id: int,
    accepted: CarrierAccepted,
    at: datetime,
    *,
    from_lookup: bool = False,
) -> bool:
    """The carrier took the message: its answer to our create, or (`from_lookup`) a carrier
    message found by content, which may be an identical twin's. False when the sid is not
    this message's to take: a lookup's candidate another of our messages holds (that one's
    twin), or a sid another message holds on the carrier's own word (see _take_sid)."""
    message = queries.locked_message(session, message_id)
    if message is None:
        return False
    if from_lookup:
        if message.carrier_sid is not None:
            return True  # settled meanwhile by its own callback: the lookup adds nothing
        if queries.id_holding_sid(session, accepted.carrier_sid) is not None:
            return False
        message.carrier_sid = accepted.carrier_sid
        message.carrier_sid_from_lookup = True
    elif not _take_sid(session, message, accepted.carrier_sid, at):
        return False
    _revive_if_given_up(session, message)
    message.dispatch_state = DISPATCH_ACCEPTED
    message.updated_at = at
    _advance(session, message, accepted.status, None, at)
    session.flush()
    return True


def record_accepted_many(
    session: Session, answers: Sequence[tuple[int, CarrierAccepted]], at: datetime
) -> list[int]:
    """The carrier took these messages (its answers to our creates), recorded a batch at a
    time: a message still sending with no sid takes its sid in one statement for all. The
    ids returned need record_accepted one by one: the carrier's status is beyond the queued
    one a new message has, its sid is held by another message (a twin matched by lookup) or
    given for another of the batch too, or the message was settled meanwhile (a callback, a
    lookup, given up)."""
    sids = Counter(accepted.carrier_sid for _, accepted in answers)
    quick = {
        message_id: accepted.carrier_sid
        for message_id, accepted in answers
        if accepted.status == status.QUEUED and sids[accepted.carrier_sid] == 1
    }
    taken = queries.accept_sending(session, quick, at) if quick else set()
    return [message_id for message_id, _ in answers if message_id not in taken]


def _take_sid(session: Session, message: Message, carrier_sid: str, at: datetime) -> bool:
    """The carrier's own word (its answer to our create, or a signed callback naming our id)
    says `message` is carrier message `carrier_sid`. A sid matched only by lookup gives way to
    it: the message that held it (a twin with the same text and numbers) loses it and goes
    back to sending, to be looked up for its own; and if `message` itself held a twin's sid
    by lookup, it lets that go. False when another message holds the sid on the carrier's
    word as well, or `message` already has another sid on it: a forged or misrouted report."""
    if message.carrier_sid == carrier_sid:
        message.carrier_sid_from_lookup = False  # confirmed
        return True
    if message.carrier_sid is not None and not message.carrier_sid_from_lookup:
        return False
    holder = queries.locked_holding_sid(session, carrier_sid)
    if holder is not None:
        if not holder.carrier_sid_from_lookup:
            return False
        _drop_lookup_sid(session, holder, at)
    if message.carrier_sid is not None:
        _drop_lookup_sid(session, message, at)
    session.flush()  # the sid is free before it is taken (it is unique)
    message.carrier_sid = carrier_sid
    message.carrier_sid_from_lookup = False
    return True


def _drop_lookup_sid(session: Session, message: Message, at: datetime) -> None:
    """A sid this message got by lookup was its twin's: everything it says came from the
    twin's carrier message, so the message is handed over with no outcome again (sending),
    its next lookup due at once."""
    message.carrier_sid = None
    message.carrier_sid_from_lookup = False
    message.dispatch_state = DISPATCH_SENDING
    message.next_attempt_at = at
    message.status = status.QUEUED
    message.error_code = None
    message.error_message = None
    message.updated_at = at
    _queue_message_status_event(session, message)


def record_not_called(session: Session, message_ids: Collection[int], at: datetime) -> None:
    """Their send slots passed before the calls (a slow step): the carrier never had them, so
    they go back to the outbox (one statement), due at once for later slots, the attempts not
    counted."""
    if message_ids:
        queries.unmark_sending(session, message_ids, at)


def record_retry_later(
    session: Session, message_id: int, at: datetime, retry_after: float | None, rng: random.Random
) -> None:
    """The carrier certainly did not take it: back to the outbox with backoff and jitter."""
    message = queries.locked_message(session, message_id)
    if message is None or message.dispatch_state != DISPATCH_SENDING:
        return
    message.dispatch_state = DISPATCH_PENDING
    message.next_attempt_at = at + timedelta(
        seconds=backoff_seconds(message.attempts, retry_after, rng)
    )
    message.claimed_at = None
    message.updated_at = at
    session.flush()


def backoff_seconds(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter, never sooner than the carrier asked."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def record_rejected(
    session: Session,
    message_id: int,
    failure: CarrierFailure | None,
    detail: str,
    at: datetime,
) -> None:
    """The carrier refused it before accepting: failed, units given back, consequences kept."""
    message = queries.locked_message(session, message_id)
    if message is None or message.dispatch_state not in _UNSETTLED:
        return
    business = business_queries.get_business(session, message.business_id)
    assert business is not None
    message.dispatch_state = DISPATCH_REJECTED
    message.updated_at = at
    if message.units:
        usage.give_back(session, business, message.units, message.created_at)
    _advance(session, message, status.FAILED, failure, at, detail=detail)
    _apply_error_consequences(session, message, failure, at)
    session.flush()


def record_statuses(session: Session, reports: Sequence[StatusReport], at: datetime) -> list[bool]:
    """Store status reports that arrived together, in order; for each, whether it was new.

    The rules are record_status's, but the common case is written a batch at a time: a
    message the carrier took under the sid its reports name, none of which reports an error,
    gets its new status words in one insert and its status in one update for the batch,
    moved forward along the ladder in arrival order. A message with any other report (an
    error's consequences, a sid to settle, a given-up message to revive, a report by sid
    alone) has all of its reports recorded one by one by record_status, in arrival order."""
    named = queries.lock_reported(
        session, {r.message_id for r in reports if r.message_id is not None}
    )
    quick = {
        message_id
        for message_id, m in named.items()
        if m.direction == DIRECTION_OUTBOUND
        and m.dispatch_state == DISPATCH_ACCEPTED
        and m.carrier_sid is not None
        and not m.carrier_sid_from_lookup
    }
    for report in reports:
        if report.message_id in quick and (
            report.failure is not None or report.carrier_sid != named[report.message_id].carrier_sid
        ):
            quick.discard(report.message_id)
    new = [False] * len(reports)
    inserted = queries.add_status_events(
        session,
        [
            {
                "message_id": r.message_id,
                "status": r.word,
                "error_code": r.error_code,
                "payload": dict(r.payload),
                "received_at": at,
            }
            for r in reports
            if r.message_id in quick
        ],
    )
    statuses = {message_id: named[message_id].status for message_id in sorted(quick)}
    for index, report in enumerate(reports):
        message_id = report.message_id
        if message_id not in quick or (message_id, report.word) not in inserted:
            continue
        inserted.discard((message_id, report.word))  # its replays later in the batch are not new
        new[index] = True
        if report.status is not None and status.can_advance(statuses[message_id], report.status):
            statuses[message_id] = report.status
    changed = {m: word for m, word in statuses.items() if word != named[m].status}
    queries.set_statuses(session, changed, at)
    webhooks.record_events(  # only for businesses with an endpoint (lock_reported read it)
        session,
        [
            webhooks.message_status(named[m], w, at)
            for m, w in changed.items()
            if named[m].has_endpoints
        ],
    )
    for message_id, word in changed.items():
        m = named[message_id]
        _queue_status_event(
            session,
            m.business_id,
            message_id,
            m.conversation_id,
            word,
            m.error_code,
            m.error_message,
        )
    # The rest one by one in arrival order. The messages they name are locked already (in id
    # order, above); only a report by sid alone (no id: a callback URL from before our ids)
    # locks its message now, out of that order.
    for index, report in enumerate(reports):
        if report.message_id not in quick:
            new[index] = record_status(session, report, at)
    return new


def record_status(session: Session, report: StatusReport, at: datetime) -> bool:
    """Store one status report; True when it was new. Replays add nothing, and the message's
    status only moves forward (the first final status stands)."""
    message = None
    if report.message_id is not None:
        message = queries.locked_message(session, report.message_id)
    if message is None and report.carrier_sid:
        message_id = queries.outbound_id_with_sid(session, report.carrier_sid)
        message = queries.locked_message(session, message_id) if message_id is not None else None
    if message is None or message.direction != DIRECTION_OUTBOUND:
        # Not ours (or not yet), or a client's text: callbacks report only what we sent, and
        # an "unsubscribed" applied to an inbound one would opt the business's own number out.
        return False
    # Signed and naming our id: the carrier's word on which carrier message this is.
    naming_us = bool(report.carrier_sid) and message.id == report.message_id
    if naming_us and not _take_sid(session, message, report.carrier_sid, at):
        return False  # a forged or misrouted report for another carrier message
    if not queries.add_status_event(
        session, message.id, report.word, report.error_code, dict(report.payload), at
    ):
        return False  # a replay
    _revive_if_given_up(session, message)
    if message.dispatch_state in _UNSETTLED:
        message.dispatch_state = DISPATCH_ACCEPTED
    _advance(session, message, report.status, report.failure, at)
    if report.failure is not None:
        _apply_error_consequences(session, message, report.failure, at)
    session.flush()
    return True


def due_lookups(
    session: Session, at: datetime, settle_after: timedelta, give_up_after: timedelta, limit: int
) -> list[Message]:
    """Messages handed to the carrier with no outcome recorded (an ambiguous answer, a process
    that died mid-call) whose next lookup is due, soonest first: only these are settled by
    lookup. Each one's next lookup is pushed back in the same transaction, so no other process
    asks about it meanwhile and a message the carrier cannot answer for waits its turn behind
    the others: the wait doubles with its age (up to LOOKUP_BACKOFF_MAX), with one lookup at
    its give-up time."""
    due = queries.lock_due_lookups(session, _AMBIGUOUS, at, at - settle_after, limit)
    for message in due:
        assert message.claimed_at is not None  # when it was handed over
        give_up_at = message.claimed_at + give_up_after
        later = at + min(max(at - message.claimed_at, settle_after), LOOKUP_BACKOFF_MAX)
        message.next_attempt_at = min(later, give_up_at) if at < give_up_at else later
    session.flush()
    return due


def _revive_if_given_up(session: Session, message: Message) -> None:
    """The carrier proves it holds a message we failed (given up as never confirmed, or
    refused): it was sent after all, so it counts again (its units were given back), and its
    status starts over from what the carrier reports."""
    if message.dispatch_state != DISPATCH_REJECTED:
        return
    business = business_queries.get_business(session, message.business_id)
    assert business is not None
    if message.units:
        start = billing.period_start(message.created_at, business.timezone)
        business_queries.ensure_usage_period(session, business.id, start)
        business_queries.add_outbound_units(session, business.id, start, message.units)
    message.dispatch_state = DISPATCH_SENDING
    message.status = status.QUEUED
    message.error_code = None
    message.error_message = None


def _advance(
    session: Session,
    message: Message,
    new_status: str | None,
    failure: CarrierFailure | None,
    at: datetime,
    *,
    detail: str | None = None,
) -> None:
    if new_status is None or not status.can_advance(message.status, new_status):
        return
    message.status = new_status
    message.updated_at = at
    if failure is not None and new_status in (status.FAILED, status.UNDELIVERED):
        message.error_code = failure.code
        message.error_message = (failure.reason or detail or "")[:300]
    elif new_status == status.FAILED and detail:
        message.error_message = detail[:300]
    _queue_message_status_event(session, message)


def _queue_message_status_event(session: Session, message: Message) -> None:
    webhooks.record_events(
        session, [webhooks.message_status(message, message.status, message.updated_at)]
    )
    _queue_status_event(
        session,
        message.business_id,
        message.id,
        message.conversation_id,
        message.status,
        message.error_code,
        message.error_message,
    )


def _queue_status_event(
    session: Session,
    business_id: int,
    message_id: int,
    conversation_id: int,
    word: str,
    error_code: int | None,
    error_message: str | None,
) -> None:
    """The staff pages' live update for a message's new status (sent after commit)."""
    queue_event_on_commit(
        session,
        LiveEvent(
            business_id,
            "message.status",
            {
                "message_id": message_id,
                "conversation_id": conversation_id,
                "status": word,
                "error_code": error_code,
                "error_message": error_message,
            },
        ),
    )


def _apply_error_consequences(
    session: Session, message: Message, failure: CarrierFailure | None, at: datetime
) -> None:
    """What the carrier's error proves about the recipient outlives this message."""
    recipient = failure.recipient if failure is not None else None
    if recipient is RecipientProblem.UNSUBSCRIBED and not consent.is_opted_out(
        session, message.business_id, message.to_phone
    ):
        consent.set_consent(
            session,
            business_id=message.business_id,
            phone=message.to_phone,
            opted_out=True,
            source=SOURCE_CARRIER_21610,
            keyword=None,
            sms_number=message.from_phone,
            message_id=message.id,
            at=at,
        )
    elif recipient is RecipientProblem.CANNOT_RECEIVE:
        assert failure is not None
        client_queries.mark_cell_phone_error(
            session, message.business_id, message.to_phone, failure.reason, at
        )
