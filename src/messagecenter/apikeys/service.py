"""API keys: belong to a business, act for it, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.apikeys import queries
from messagecenter.errors import InvalidInput, NotAuthenticated, NotFound
from messagecenter.events import access_ended, queue_event_on_commit
from messagecenter.models import ApiKey

KEY_PREFIX = "mc_"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, business_id: int, name: str, at: datetime
) -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Give the key a name of 1 to 100 characters.", field="name")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        business_id=business_id,
        name=name,
        prefix=secret[:10],
        key_hash=key_digest(secret),
        created_at=at,
    )
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, presented: str | None) -> ApiKey:
    if not presented:
        raise NotAuthenticated(
            "Send your API key as 'Authorization: Bearer <key>'.", code="missing_api_key"
        )
    digest = key_digest(presented.strip())
    key = queries.key_by_digest(session, digest)
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, digest):
        raise NotAuthenticated("That API key is not valid or has been revoked.", code="bad_api_key")
    return key


def get_api_key(session: Session, business_id: int, key_id: int) -> ApiKey:
    """A key of this business; NotFound for another's (its existence is not told)."""
    key = queries.key_of_business(session, business_id, key_id)
    if key is None:
        raise NotFound("No such API key.")
    return key


def revoke_api_key(session: Session, business_id: int, key_id: int, at: datetime) -> ApiKey:
    key = get_api_key(session, business_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = at
        # Once this commits, every process closes the event streams opened with the key.
        queue_event_on_commit(session, access_ended(business_id, api_key_id=key.id))
    session.flush()
    return key


def list_api_keys(session: Session, business_id: int) -> list[ApiKey]:
    return queries.keys_of_business(session, business_id)
