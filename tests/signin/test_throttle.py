"""The sign-in throttle itself: the backoff's arithmetic and its row locks. How the sign-in
page applies it (delays per email, address and device) is tested in tests/web/test_auth.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.models import SignInFailure
from messagecenter.signin.service import purge_sign_ins
from messagecenter.signin.throttle import ANYWHERE, Backoff, LoginThrottle


def test_the_backoff_doubles_after_the_free_failures_up_to_its_cap() -> None:
    backoff = Backoff(free=5, first=timedelta(seconds=15), cap=timedelta(minutes=15))
    waits = [backoff.delay(n).total_seconds() for n in range(1, 13)]
    assert waits == [0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900]
    assert backoff.delay(10**6) == timedelta(minutes=15)  # no overflow however many


@pytest.mark.postgres_only
def test_purging_and_other_keys_never_wait_for_a_sign_in_in_progress(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """A sign-in holds its key's rows: the housekeeping skips them, and attempts on other
    keys neither wait for them nor clear anything themselves (they used to delete every
    stale row while holding their own: two such attempts deadlocked). Attempts on the same
    account from elsewhere share its account-wide row, so they take turns (each holds it
    for its short attempt, never through the password check)."""
    throttle = LoginThrottle()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        with session_scope(committed_context.sessions) as session:
            throttle.attempt(session, address, "k", clock)
    clock.advance(timedelta(days=2))  # every row is stale now

    holding = committed_context.sessions()
    try:
        assert throttle.attempt(holding, "192.0.2.1", "k", clock) == timedelta(0)
        with session_scope(committed_context.sessions) as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting is the failure
            assert throttle.attempt(other, "192.0.2.2", "k2", clock) == timedelta(0)
        with session_scope(committed_context.sessions) as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            purge_sign_ins(other, clock.now())
            left = other.execute(select(SignInFailure.address).distinct()).scalars().all()
        # .3 cleared; .1 and the account's row everywhere skipped while held.
        assert sorted(left) == ["192.0.2.1", "192.0.2.2", ANYWHERE]
        holding.commit()
    finally:
        holding.close()


def test_a_success_clears_its_pair_and_takes_one_off_the_wide_rows(
    session: Session, clock: FrozenClock
) -> None:
    """An attempt counts on three rows (the address's, the pair's, the account's from
    anywhere); a success clears the pair's and takes one failure off each wide row."""
    throttle = LoginThrottle()
    for _ in range(3):
        assert throttle.attempt(session, "192.0.2.1", "k", clock) == timedelta(0)
    throttle.succeeded(session, "192.0.2.1", "k")
    session.expire_all()
    rows = session.execute(
        select(SignInFailure.address, SignInFailure.account, SignInFailure.failures)
    ).all()
    assert sorted(tuple(r) for r in rows) == [("192.0.2.1", "", 2), (ANYWHERE, "k", 2)]
