"""The outbox's SQL: holds, hand-overs and their release, messages by carrier sid, status
events and the lookups due. The rules (which state may move to which, when) are the service's
(sending/service.py); a statement here checks only what makes it safe to run concurrently."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import Message, MessageStatusEvent
from messagecenter.models.message import (
    DIRECTION_OUTBOUND,
    DISPATCH_ACCEPTED,
    DISPATCH_HELD,
    DISPATCH_PENDING,
    DISPATCH_SENDING,
)


class DueMessage(NamedTuple):
    """What a carrier call needs of a message due in the outbox."""

    id: int
    from_phone: str
    to_phone: str
    body: str
    media_urls: list[str] | None
    next_attempt_at: datetime | None


def lock_due(session: Session, at: datetime, limit: int) -> list[DueMessage]:
    """Pending messages due by `at`, soonest first, locked: what a carrier call needs. FOR
    UPDATE SKIP LOCKED lets many workers share one PostgreSQL queue; SQLite ignores it (one
    process there, and BEGIN IMMEDIATE serialises writers)."""
    rows = session.execute(
        select(
            Message.id,
            Message.from_phone,
            Message.to_phone,
            Message.body,
            Message.media_urls,
            Message.next_attempt_at,
        )
        .where(Message.dispatch_state == DISPATCH_PENDING, Message.next_attempt_at <= at)
        .order_by(Message.next_attempt_at, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueMessage(*row) for row in rows]


def hold(session: Session, message_ids: Sequence[int], at: datetime) -> None:
    """Locked pending messages -> held from `at` (one statement for the batch)."""
    session.execute(
        update(Message)
        .where(Message.id.in_(message_ids))
        .values(dispatch_state=DISPATCH_HELD, claimed_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )


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
    return set(
        session.scalars(
            update(Message)
            .where(
                Message.id.in_(message_ids),
                Message.dispatch_state == DISPATCH_HELD,
                Message.claimed_at.in_(held_at),
            )
            .values(
                dispatch_state=DISPATCH_SENDING,
                claimed_at=at,  # from now on: when it was handed to the carrier
                next_attempt_at=first_lookup_at,  # when to ask the carrier if no outcome arrives
                attempts=Message.attempts + 1,
                updated_at=at,
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
    )


def held_sids(session: Session, carrier_sids: Collection[str]) -> set[str]:
    """Which of these carrier sids a message holds already."""
    return set(
        session.scalars(select(Message.carrier_sid).where(Message.carrier_sid.in_(carrier_sids)))
    )


def accept_sending(session: Session, sids: Mapping[int, str], at: datetime) -> set[int]:
    """Messages still sending with no carrier sid take the sid the carrier answered (one
    statement for the batch); returns those that did. The others (settled meanwhile by a
    callback or a lookup) take the one-by-one path."""
    return set(
        session.scalars(
            update(Message)
            .where(
                Message.id.in_(list(sids)),
                Message.dispatch_state == DISPATCH_SENDING,
                Message.carrier_sid.is_(None),
            )
            .values(
                carrier_sid=case(sids, value=Message.id),
                carrier_sid_from_lookup=False,
                dispatch_state=DISPATCH_ACCEPTED,
                updated_at=at,
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
    )


def renew_holds(
    session: Session, message_ids: Sequence[int], held_at: Collection[datetime], at: datetime
) -> set[int]:
    """The messages of `message_ids` still held under one of `held_at`, now held from `at`."""
    return set(
        session.scalars(
            update(Message)
            .where(
                Message.id.in_(message_ids),
                Message.dispatch_state == DISPATCH_HELD,
                Message.claimed_at.in_(held_at),
            )
            .values(claimed_at=at, updated_at=at)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
    )


def release_holds(
    session: Session, message_ids: Sequence[int], held_at: Collection[datetime], at: datetime
) -> int:
    """The messages of `message_ids` still held under one of `held_at` go back to pending;
    how many."""
    result = session.execute(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.dispatch_state == DISPATCH_HELD,
            Message.claimed_at.in_(held_at),
        )
        .values(dispatch_state=DISPATCH_PENDING, claimed_at=None, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
