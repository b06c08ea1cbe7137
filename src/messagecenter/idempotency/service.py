"""Idempotency-Key on sends: the same key and request within 24 hours gets the first answer
again and sends nothing; the same key with a different request gets 409."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from messagecenter.errors import Conflict, InvalidInput
from messagecenter.idempotency import queries
from messagecenter.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def request_fingerprint(method: str, path: str, canonical_body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{canonical_body}".encode()).hexdigest()


def claim_key(
    session: Session, business_id: int, key: str, fingerprint: str, at: datetime
) -> IdempotencyKey | None:
    """Reserve `key` for this request in the caller's transaction.

    Returns the stored answer when the same request already ran (replay), None when this
    request is the first and should go ahead (the caller then calls `store_response`). A
    concurrent twin waits on the unique index until the first one commits.
    """
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.", field="Idempotency-Key"
        )
    queries.delete_key_older_than(session, business_id, key, at - KEEP_FOR)
    new = queries.insert_key(
        session,
        {
            "business_id": business_id,
            "key": key,
            "request_hash": fingerprint,
            "response_status": 0,
            "response_body": {},
            "created_at": at,
        },
    )
    if new:
        return None
    stored = queries.stored_key(session, business_id, key)
    assert stored is not None
    if stored.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used for a different request; use a new key "
            "for a new message.",
            code="idempotency_key_reused",
        )
    return stored


def store_response(
    session: Session, business_id: int, key: str, status: int, body: dict[str, Any]
) -> None:
    stored = queries.stored_key(session, business_id, key.strip())
    assert stored is not None
    stored.response_status = status
    stored.response_body = body
    session.flush()


def purge_expired(session: Session, at: datetime) -> int:
    return queries.delete_older_than(session, at - KEEP_FOR)
