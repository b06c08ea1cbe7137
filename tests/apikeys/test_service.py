"""API keys (apikeys/service.py): the secret is shown once and stored only as a digest; a key
authenticates until it is revoked, and only within its own business."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.apikeys import queries
from messagecenter.apikeys.service import (
    KEY_PREFIX,
    authenticate,
    create_api_key,
    key_digest,
    list_api_keys,
    revoke_api_key,
)
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput, NotAuthenticated, NotFound
from messagecenter.events import pending_events
from messagecenter.models import ApiKey
from tests.factories import make_business


def test_the_secret_is_returned_once_and_stored_only_as_its_digest(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    business = make_business(session, context.carrier, clock.now()).business
    key, secret = create_api_key(session, business.id, "  Booking system ", clock.now())

    assert secret.startswith(KEY_PREFIX) and key.name == "Booking system"
    stored = session.scalars(select(ApiKey.key_hash).where(ApiKey.id == key.id)).one()
    assert stored == key_digest(secret) and secret not in stored
    assert key.prefix == secret[:10]  # what the settings page shows to tell keys apart
    assert authenticate(session, f" {secret} ").id == key.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_key_needs_a_name(
    session: Session, context: AppContext, clock: FrozenClock, name: str
) -> None:
    business = make_business(session, context.carrier, clock.now()).business
    before = list_api_keys(session, business.id)
    with pytest.raises(InvalidInput) as refused:
        create_api_key(session, business.id, name, clock.now())
    assert refused.value.field == "name"
    assert list_api_keys(session, business.id) == before


@pytest.mark.parametrize(
    ("presented", "code"),
    [(None, "missing_api_key"), ("", "missing_api_key"), ("mc_not-a-key", "bad_api_key")],
)
def test_a_missing_or_unknown_key_is_refused_saying_which(
    session: Session, presented: str | None, code: str
) -> None:
    with pytest.raises(NotAuthenticated) as refused:
        authenticate(session, presented)
    assert refused.value.code == code


def test_a_revoked_key_no_longer_authenticates_and_ends_its_streams(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    business = make_business(session, context.carrier, clock.now()).business
    key, secret = create_api_key(session, business.id, "Old integration", clock.now())

    revoke_api_key(session, business.id, key.id, clock.now())

    with pytest.raises(NotAuthenticated):
        authenticate(session, secret)
    assert not queries.key_is_active(session, key.id)
    ended = [e for e in pending_events(session) if e.data.get("api_key_id") == key.id]
    assert len(ended) == 1
    # Revoking twice changes nothing more (no second access-ended event).
    revoke_api_key(session, business.id, key.id, clock.now())
    assert [e for e in pending_events(session) if e.data.get("api_key_id") == key.id] == ended


def test_another_business_cannot_revoke_a_key(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    owner = make_business(session, context.carrier, clock.now()).business
    other = make_business(session, context.carrier, clock.now()).business
    key, secret = create_api_key(session, owner.id, "Booking system", clock.now())

    with pytest.raises(NotFound):
        revoke_api_key(session, other.id, key.id, clock.now())
    assert authenticate(session, secret).id == key.id
    assert key.id not in [k.id for k in list_api_keys(session, other.id)]
