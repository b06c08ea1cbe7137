"""The outbox's SQL: holds, hand-overs and their release, messages by carrier sid, status
events and the lookups due. The rules (which state may move to which, when) are the service's
(sending/service.py); a statement here checks only what makes it safe to run concurrently."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import Message, MessageStatusEvent
from messagecenter.models.message import (
    DIRECTION_OUTBOUND,
    DISPATCH_HELD,
    DISPATCH_PENDING,
    DISPATCH_SENDING,
)


def lock_due(session: Session, at: datetime, limit: int) -> Sequence[Message]:
    """Pending messages due by `at`, soonest first, locked. FOR UPDATE SKIP LOCKED lets many
    workers share one PostgreSQL queue; SQLite ignores it (one process there, and BEGIN
    IMMEDIATE serialises writers)."""
    return session.scalars(
        select(Message)
        .where(Message.dispatch_state == DISPATCH_PENDING, Message.next_attempt_at <= at)
        .order_by(Message.next_attempt_at, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def mark_sending(
    session: Session,
    message_id: int,
    held_at: datetime,
    at: datetime,
    first_lookup_at: datetime,
) -> bool:
    """Held since `held_at` -> sending at `at`, one attempt more; False when that hold is
    not there any more (released, maybe taken by another worker)."""
    marked = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.dispatch_state == DISPATCH_HELD,
            Message.claimed_at == held_at,
        )
        .values(
            dispatch_state=DISPATCH_SENDING,
            claimed_at=at,  # from now on: when it was handed to the carrier
            next_attempt_at=first_lookup_at,  # when to ask the carrier if no outcome arrives
            attempts=Message.attempts + 1,
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount)  # type: ignore[attr-defined]


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
