"""Idempotency keys' SQL: claim (insert-or-ignore), read back, forget the expired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import IdempotencyKey


def delete_key_older_than(session: Session, business_id: int, key: str, before: datetime) -> None:
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.business_id == business_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < before,
        )
    )


def insert_key(session: Session, values: dict[str, Any]) -> bool:
    """True when the row is new; False when the business already holds the key (a concurrent
    twin waits on the unique index until the first one commits)."""
    table = IdempotencyKey.__table__
    new_id = insert_ignore(session, table, values, ["business_id", "key"])  # type: ignore[arg-type]
    return new_id is not None


def stored_key(session: Session, business_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.business_id == business_id, IdempotencyKey.key == key
        )
    )


def delete_older_than(session: Session, before: datetime) -> int:
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
