"""API keys' SQL: by digest (sign-in by key), and a business's own."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.models import ApiKey


def key_by_digest(session: Session, digest: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))


def key_is_active(session: Session, key_id: int) -> bool:
    """Whether the key still exists and is not revoked."""
    key = session.get(ApiKey, key_id)
    return key is not None and key.revoked_at is None


def key_of_business(session: Session, business_id: int, key_id: int) -> ApiKey | None:
    """The key, if it is this business's: another business's key is not found."""
    return session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.business_id == business_id)
    )


def keys_of_business(session: Session, business_id: int) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.business_id == business_id).order_by(ApiKey.id))
    )
