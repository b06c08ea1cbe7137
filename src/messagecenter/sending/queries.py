"""The outbox's SQL: holds, hand-overs and their release, messages by carrier sid, status
events and the lookups due. The rules (which state may move to which, when) are the service's
(sending/service.py); a statement here checks only what makes it safe to run concurrently."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Integer, String, Table, bindparam, case, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore, insert_ignore_many
from messagecenter.models import (
    Business,
    Client,
    Conversation,
    Message,
    MessageStatusEvent,
    PhoneConsent,
    SendPacing,
    SmsNumber,
    WebhookEndpoint,
)
from messagecenter.models.message import (
    BULK_LAST_SQL,
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DISPATCH_ACCEPTED,
    DISPATCH_HELD,
    DISPATCH_NONE,
    DISPATCH_PENDING,
    DISPATCH_SENDING,
)
from messagecenter.models.sms_number import NUMBER_ACTIVE
from messagecenter.models.status import CANCELED, QUEUED

# The hot path's statements are built once, with bind parameters (a batch's ids expand into
# its IN list), and run on the session's connection: building and compiling an expression per
# call cost more than the database's work.
_messages = cast(Table, Message.__table__)
_events = cast(Table, MessageStatusEvent.__table__)
_pacing = cast(Table, SendPacing.__table__)
_numbers = cast(Table, SmsNumber.__table__)


_IN_CHUNK = 1000  # ids per IN list of a batch's look-ups (a bulk send's may be 10,000)


def _ids() -> Any:
    return _messages.c.id.in_(bindparam("ids", expanding=True))


class DueMessage(NamedTuple):
    """What a carrier call needs of a message due in the outbox."""

    id: int
    from_phone: str
    to_phone: str
    body: str
    media_urls: list[str] | None
    next_attempt_at: datetime | None
    # When the quiet-hours window it was due in closes (None: no quiet hours for it).
    quiet_open_until: datetime | None


_PRIORITIES = (0, 1)  # BULK_LAST_SQL: replies and transactional texts, then bulk traffic


def _lock_due(priority: int, paced: bool) -> Any:
    """Pending messages of one priority due by `at`, soonest first, locked: one range of
    ix_messages_outbox_priority read in its order, which the planner takes whatever its
    statistics say. (Ordered by the priority in one query, a claim after a burst the
    statistics had not seen yet was planned as a scan and sort of every due message: 40-50 ms
    a claim with 16,000 due, against 0.3 ms.) Paced: passing over the numbers whose slots
    are given out beyond `full_until` (a number with a long bulk send waiting does not fill
    the batch with texts that cannot go yet)."""
    query = (
        select(*(_messages.c[name] for name in DueMessage._fields))
        .where(
            # Both terms written as the index is (a bound value would not prove a
            # prepared statement's generic plan, nor SQLite, may use the partial index).
            text(f"messages.dispatch_state = '{DISPATCH_PENDING}'"),
            text(f"{BULK_LAST_SQL} = {priority}"),
            _messages.c.next_attempt_at <= bindparam("at"),
        )
        .order_by(_messages.c.next_attempt_at, _messages.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    if paced:
        query = query.where(
            _messages.c.from_phone.not_in(
                select(_pacing.c.from_phone).where(
                    _pacing.c.next_slot_at >= bindparam("full_until")
                )
            )
        )
    return query


_LOCK_DUE = {
    (priority, paced): _lock_due(priority, paced)
    for priority in _PRIORITIES
    for paced in (False, True)
}
_HOLD = (
    update(_messages)
    .where(_ids())
    .values(dispatch_state=DISPATCH_HELD, claimed_at=bindparam("at"), updated_at=bindparam("at"))
)
_MARK_SENDING = (
    update(_messages)
    .where(
        _ids(),
        _messages.c.dispatch_state == DISPATCH_HELD,
        _messages.c.claimed_at.in_(bindparam("held_at", expanding=True)),
    )
    .values(
        dispatch_state=DISPATCH_SENDING,
        claimed_at=bindparam("at"),  # from now on: when it was handed to the carrier
        next_attempt_at=bindparam("first_lookup_at"),  # ask the carrier then if no outcome
        attempts=_messages.c.attempts + 1,
        updated_at=bindparam("at"),
    )
    .returning(_messages.c.id)
)
_holder = _messages.alias("holder")
_ACCEPT_SENDING = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("message_id"),
        _messages.c.dispatch_state == DISPATCH_SENDING,
        _messages.c.carrier_sid.is_(None),
        # A sid another message holds (a twin matched by lookup) is for the one-by-one path.
        ~exists().where(_holder.c.carrier_sid == bindparam("sid")),
    )
    .values(
        carrier_sid=bindparam("sid"),
        carrier_sid_from_lookup=False,
        dispatch_state=DISPATCH_ACCEPTED,
        updated_at=bindparam("at"),
    )
)
_SIDS_OF = select(_messages.c.id, _messages.c.carrier_sid).where(_ids())
# PostgreSQL: the batch's answers in one statement, as two arrays unnested side by side (one
# statement text whatever the batch's size, prepared once), returning the messages that took
# their sid. SQLite runs _ACCEPT_SENDING per answer (in process: no round trips to save).
_answered = (
    func.unnest(
        bindparam("ids", type_=postgresql.ARRAY(Integer)),
        bindparam("sids", type_=postgresql.ARRAY(String)),
    )
    .table_valued("id", "sid")
    .render_derived(name="answered")
)
_ACCEPT_SENDING_ALL = (
    update(_messages)
    .where(
        _messages.c.id == _answered.c.id,
        _messages.c.dispatch_state == DISPATCH_SENDING,
        _messages.c.carrier_sid.is_(None),
        ~exists().where(_holder.c.carrier_sid == _answered.c.sid),
    )
    .values(
        carrier_sid=_answered.c.sid,
        carrier_sid_from_lookup=False,
        dispatch_state=DISPATCH_ACCEPTED,
        updated_at=bindparam("at"),
    )
    .returning(_messages.c.id)
)


_consents = cast(Table, PhoneConsent.__table__)
# Due messages whose recipient opted out after they were queued (a STOP answered by the app
# is queued after its own opt-out, so it still goes).
_OPTED_OUT_SINCE = (
    select(_messages.c.id)
    .join(
        _consents,
        (_consents.c.business_id == _messages.c.business_id)
        & (_consents.c.phone == _messages.c.to_phone),
    )
    .where(_ids(), _consents.c.opted_out, _consents.c.changed_at > _messages.c.created_at)
)


class Withdrawn(NamedTuple):
    """A message taken out of the outbox unsent: what giving its units back needs."""

    id: int
    business_id: int
    conversation_id: int
    units: int
    created_at: datetime


_WITHDRAW = (
    update(_messages)
    .where(
        _ids(),
        _messages.c.dispatch_state == DISPATCH_PENDING,
        _messages.c.status == QUEUED,
    )
    .values(
        status=CANCELED,
        dispatch_state=DISPATCH_NONE,
        error_message=bindparam("reason"),
        updated_at=bindparam("at"),
    )
    .returning(*(_messages.c[name] for name in Withdrawn._fields))
)


def lock_due(
    session: Session, at: datetime, limit: int, full_until: datetime | None = None
) -> list[DueMessage]:
    """Pending messages due by `at`, bulk traffic last, soonest first, locked: what a carrier
    call needs. With `full_until`, none from a number whose next free send slot is at or
    after it. FOR UPDATE SKIP LOCKED lets many workers share one PostgreSQL queue; SQLite
    ignores it (one process there, and BEGIN IMMEDIATE serialises writers)."""
    connection, due = session.connection(), list[DueMessage]()
    for priority in _PRIORITIES:
        rows = connection.execute(
            _LOCK_DUE[priority, full_until is not None],
            {"at": at, "limit": limit - len(due), "full_until": full_until},
        )
        due += [DueMessage(*row) for row in rows]
        if len(due) >= limit:
            break
    return due


class PacedNumber(NamedTuple):
    """A sending number's next free send slot (locked) and what says its rate."""

    from_phone: str
    next_slot_at: datetime
    send_rate: int | None  # its own setting; None: its type's default (numbers/rates.py)
    country: str | None  # None: no business holds the number now


_LOCK_PACING = (
    select(_pacing.c.from_phone, _pacing.c.next_slot_at, _numbers.c.send_rate, _numbers.c.country)
    .select_from(
        _pacing.outerjoin(
            _numbers,
            (_numbers.c.phone_number == _pacing.c.from_phone)
            & (_numbers.c.status == NUMBER_ACTIVE),
        )
    )
    .where(_pacing.c.from_phone.in_(bindparam("phones", expanding=True)))
    .order_by(_pacing.c.from_phone)  # two claims lock shared numbers in one order
    .with_for_update(of=_pacing)
)
_SET_NEXT_SLOT = (
    update(_pacing)
    .where(_pacing.c.from_phone == bindparam("phone"))
    .values(next_slot_at=bindparam("next_slot_at"))
)


def lock_pacing(session: Session, phones: Collection[str]) -> dict[str, PacedNumber]:
    """The pacing rows of these sending numbers that exist, locked until the claim commits
    (another claim for the same number waits: its slots come after these)."""
    rows = session.connection().execute(_LOCK_PACING, {"phones": sorted(phones)})
    return {row.from_phone: PacedNumber(*row) for row in rows}


def add_pacing(session: Session, phones: Collection[str], free_from: datetime) -> None:
    """Pacing rows for numbers that have none yet (another claim's, if it was first, stays)."""
    insert_ignore_many(
        session,
        _pacing,
        [{"from_phone": phone, "next_slot_at": free_from} for phone in sorted(phones)],
        ["from_phone"],
    )


def set_next_slots(session: Session, next_slots: Mapping[str, datetime]) -> None:
    """Each number's next free send slot (one executemany)."""
    if next_slots:
        session.connection().execute(
            _SET_NEXT_SLOT,
            [{"phone": phone, "next_slot_at": at} for phone, at in next_slots.items()],
        )


def opted_out_since_queued(session: Session, message_ids: Collection[int]) -> set[int]:
    """Which of these messages' recipients opted out after the message was queued."""
    rows = session.connection().execute(_OPTED_OUT_SINCE, {"ids": list(message_ids)})
    return {message_id for (message_id,) in rows}


class QuietRecheck(NamedTuple):
    """What judging a claimed message's quiet hours again needs."""

    id: int
    to_phone: str
    client_zone: str | None
    business_zone: str
    strict_state_hours: bool


_QUIET_RECHECK = (
    select(
        _messages.c.id,
        _messages.c.to_phone,
        Client.timezone,
        Business.timezone,
        Business.strict_state_hours,
    )
    .select_from(_messages)
    .join(Business, Business.id == _messages.c.business_id)
    .join(Conversation, Conversation.id == _messages.c.conversation_id)
    .outerjoin(Client, Client.id == Conversation.client_id)
    .where(_ids())
)
_HOLD_FOR_QUIET = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("message_id"), _messages.c.dispatch_state == DISPATCH_PENDING
    )
    .values(
        next_attempt_at=bindparam("goes_at"),
        quiet_until=bindparam("goes_at"),
        quiet_zone=bindparam("zone"),
        quiet_open_until=bindparam("open_until"),
        updated_at=bindparam("at"),
    )
)


def quiet_rechecks(session: Session, message_ids: Collection[int]) -> list[QuietRecheck]:
    """The claimed messages' phones, their clients' time zones and their businesses' rules."""
    rows = session.connection().execute(_QUIET_RECHECK, {"ids": list(message_ids)})
    return [QuietRecheck(*row) for row in rows]


def hold_for_quiet_hours(session: Session, holds: Sequence[Mapping[str, Any]]) -> None:
    """Locked pending messages due again when their window opens (one executemany): each of
    `holds` gives message_id, goes_at, zone, open_until and at."""
    if holds:
        session.connection().execute(_HOLD_FOR_QUIET, list(holds))


def client_zones_of(session: Session, conversation_ids: Collection[int]) -> dict[int, str]:
    """The time zone on the profile of each conversation's client, where one is set."""
    found: dict[int, str] = {}
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            select(Conversation.id, Client.timezone)
            .join(Client, Client.id == Conversation.client_id)
            .where(
                Conversation.id.in_(ids[start : start + _IN_CHUNK]),
                Client.timezone.is_not(None),
            )
        )
        found.update((conversation_id, zone) for conversation_id, zone in rows if zone)
    return found


def client_wrote_since(
    session: Session, conversation_ids: Collection[int], since: datetime
) -> set[int]:
    """The conversations among these in which the client wrote at or after `since`."""
    found: set[int] = set()
    ids = sorted(conversation_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        found.update(
            session.scalars(
                select(Message.conversation_id)
                .where(
                    Message.conversation_id.in_(ids[start : start + _IN_CHUNK]),
                    Message.direction == DIRECTION_INBOUND,
                    Message.created_at >= since,
                )
                .distinct()
            )
        )
    return found


def withdraw_pending(
    session: Session, message_ids: Collection[int], reason: str, at: datetime
) -> list[Withdrawn]:
    """Messages of `message_ids` still pending (never held by a dispatcher) -> canceled with
    `reason`, out of the outbox; returns them."""
    if not message_ids:
        return []
    rows = session.connection().execute(
        _WITHDRAW, {"ids": sorted(message_ids), "reason": reason, "at": at}
    )
    return [Withdrawn(*row) for row in rows]


def hold(session: Session, message_ids: Sequence[int], at: datetime) -> None:
    """Locked pending messages -> held from `at` (one statement for the batch)."""
    session.connection().execute(_HOLD, {"ids": list(message_ids), "at": at})


def mark_sending(
    session: Session,
    message_ids: Sequence[int],
    held_at: Collection[datetime],
    at: datetime,
    first_lookup_at: datetime,
) -> set[int]:
    """The messages of `message_ids` still held under one of `held_at` -> sending at `at`,
    one attempt more; returns them. The others' holds are not there any more (released,
    maybe taken by another worker)."""
    rows = session.connection().execute(
        _MARK_SENDING,
        {
            "ids": list(message_ids),
            "held_at": list(held_at),
            "at": at,
            "first_lookup_at": first_lookup_at,
        },
    )
    return {message_id for (message_id,) in rows}


_UNMARK_SENDING = (
    update(_messages)
    .where(_ids(), _messages.c.dispatch_state == DISPATCH_SENDING)
    .values(
        dispatch_state=DISPATCH_PENDING,
        next_attempt_at=bindparam("at"),
        claimed_at=None,
        attempts=case((_messages.c.attempts > 0, _messages.c.attempts - 1), else_=0),
        updated_at=bindparam("at"),
    )
)


def unmark_sending(session: Session, message_ids: Collection[int], at: datetime) -> None:
    """Messages of `message_ids` still sending whose call never started -> pending, due at
    `at`, that attempt not counted."""
    session.connection().execute(_UNMARK_SENDING, {"ids": sorted(message_ids), "at": at})


def accept_sending(session: Session, sids: Mapping[int, str], at: datetime) -> set[int]:
    """Messages still sending with no carrier sid take the sid the carrier answered, unless
    another message holds it (one executemany for the batch); returns those that hold it
    now. The others (settled meanwhile by a callback or a lookup, or a twin's sid) take the
    one-by-one path. No two of `sids` may be the same sid: one statement would give it to
    both (the unique key then fails the step)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = list(sids)
        rows = connection.execute(
            _ACCEPT_SENDING_ALL, {"ids": ids, "sids": [sids[m] for m in ids], "at": at}
        )
        return {message_id for (message_id,) in rows}
    connection.execute(
        _ACCEPT_SENDING, [{"message_id": m, "sid": sid, "at": at} for m, sid in sids.items()]
    )
    rows = connection.execute(_SIDS_OF, {"ids": list(sids)})
    return {message_id for message_id, sid in rows if sid == sids[message_id]}


def _holds_of() -> Any:
    """The batch's messages (`ids`) still held under one of its claims' times (`held_at`)."""
    return (
        _ids(),
        _messages.c.dispatch_state == DISPATCH_HELD,
        _messages.c.claimed_at.in_(bindparam("held_at", expanding=True)),
    )


_RENEW_HOLDS = (
    update(_messages)
    .where(*_holds_of())
    .values(claimed_at=bindparam("at"), updated_at=bindparam("at"))
    .returning(_messages.c.id)
)
_RELEASE_HOLDS = (
    update(_messages)
    .where(*_holds_of())
    .values(dispatch_state=DISPATCH_PENDING, claimed_at=None, updated_at=bindparam("at"))
)


def renew_holds(
    session: Session, message_ids: Sequence[int], held_at: Collection[datetime], at: datetime
) -> set[int]:
    """The messages of `message_ids` still held under one of `held_at`, now held from `at`."""
    rows = session.connection().execute(
        _RENEW_HOLDS, {"ids": list(message_ids), "held_at": list(held_at), "at": at}
    )
    return {message_id for (message_id,) in rows}


def release_holds(
    session: Session, message_ids: Sequence[int], held_at: Collection[datetime], at: datetime
) -> int:
    """The messages of `message_ids` still held under one of `held_at` go back to pending;
    how many."""
    result = session.connection().execute(
        _RELEASE_HOLDS, {"ids": list(message_ids), "held_at": list(held_at), "at": at}
    )
    return int(result.rowcount or 0)


def release_holds_before(session: Session, held_before: datetime, at: datetime) -> int:
    """Every hold taken before `held_before` goes back to pending; how many."""
    result = session.execute(
        update(Message)
        .where(Message.dispatch_state == DISPATCH_HELD, Message.claimed_at < held_before)
        .values(dispatch_state=DISPATCH_PENDING, claimed_at=None, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def locked_message(session: Session, message_id: int) -> Message | None:
    """The message, locked for this transaction and read afresh (not as this session last
    saw it)."""
    message = session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if message is not None:
        session.refresh(message)
    return message


def id_holding_sid(session: Session, carrier_sid: str) -> int | None:
    return session.scalar(select(Message.id).where(Message.carrier_sid == carrier_sid))


def locked_holding_sid(session: Session, carrier_sid: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.carrier_sid == carrier_sid).with_for_update()
    )


def outbound_id_with_sid(session: Session, carrier_sid: str) -> int | None:
    return session.scalar(
        select(Message.id).where(
            Message.carrier_sid == carrier_sid, Message.direction == DIRECTION_OUTBOUND
        )
    )


def add_status_event(
    session: Session,
    message_id: int,
    word: str,
    error_code: int | None,
    payload: dict[str, Any],
    at: datetime,
) -> bool:
    """Keep a reported status word; False when the message has it already (a replay)."""
    inserted = insert_ignore(
        session,
        MessageStatusEvent.__table__,  # type: ignore[arg-type]
        {
            "message_id": message_id,
            "status": word,
            "error_code": error_code,
            "payload": payload,
            "received_at": at,
        },
        ["message_id", "status"],
    )
    return inserted is not None


class ReportedMessage(NamedTuple):
    """What recording a status report in bulk needs of its message."""

    id: int
    business_id: int
    conversation_id: int
    direction: str
    dispatch_state: str
    carrier_sid: str | None
    carrier_sid_from_lookup: bool
    status: str
    error_code: int | None
    error_message: str | None
    # Whether its business has a live webhook endpoint: read with the lock, so a batch for
    # businesses without one skips the endpoints' query (a round trip per batch).
    has_endpoints: bool


_LOCK_REPORTED = (
    select(
        *(_messages.c[name] for name in ReportedMessage._fields[:-1]),
        exists()
        .where(
            WebhookEndpoint.business_id == _messages.c.business_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
        .label("has_endpoints"),
    )
    .where(_ids())
    .order_by(_messages.c.id)
    .with_for_update()
)
_SET_STATUS = (
    update(_messages)
    .where(_messages.c.id == bindparam("message_id"))
    .values(status=bindparam("status"), updated_at=bindparam("at"))
)
_ADD_EVENTS = {
    name: insert(_events)
    .on_conflict_do_nothing(index_elements=["message_id", "status"])
    .returning(_events.c.message_id, _events.c.status)
    for name, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}


def lock_reported(session: Session, message_ids: Collection[int]) -> dict[int, ReportedMessage]:
    """The messages status reports name, locked in id order (two processes' batches then
    never wait on each other's locks)."""
    if not message_ids:
        return {}
    rows = session.connection().execute(_LOCK_REPORTED, {"ids": sorted(message_ids)})
    return {row.id: ReportedMessage(*row) for row in rows}


def add_status_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[tuple[int, str]]:
    """Keep reported status words in one statement; the (message id, word) pairs that were
    new (a replay, even of a row earlier in `rows`, adds nothing)."""
    if not rows:
        return set()
    connection = session.connection()
    inserted = connection.execute(_ADD_EVENTS[connection.dialect.name], list(rows))
    return {(message_id, word) for message_id, word in inserted}


def set_statuses(session: Session, statuses: Mapping[int, str], at: datetime) -> None:
    """Each message's new status (one executemany)."""
    if statuses:
        session.connection().execute(
            _SET_STATUS,
            [{"message_id": m, "status": word, "at": at} for m, word in statuses.items()],
        )


def lock_due_lookups(
    session: Session,
    states: Collection[str],
    at: datetime,
    handed_over_by: datetime,
    limit: int,
) -> list[Message]:
    """Messages in `states` whose next lookup is due by `at`, handed over by
    `handed_over_by`, soonest first, locked (skipping what another worker holds)."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.dispatch_state.in_(states),
                Message.next_attempt_at <= at,
                Message.claimed_at <= handed_over_by,
            )
            .order_by(Message.next_attempt_at, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
