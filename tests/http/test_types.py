"""since/until take a timezone-aware ISO 8601 date-time, compared in UTC; anything else is a
400 naming the parameter, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import SetUp, make_business


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    session.commit()
    return created


@pytest.fixture
def quiet_api(context: AppContext) -> Iterator[TestClient]:
    # Not raising server exceptions: a 500 must show as a 500 here, not as an exception.
    with TestClient(
        create_app(context=context, run_dispatcher=False), raise_server_exceptions=False
    ) as c:
        yield c


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2026-11-16", "timezone"),
        ("2026-11-16T15:00:00", "timezone"),
        ("9999-12-31T23:59:59-23:59", "outside years"),
        ("0001-01-01T00:00:00+14:00", "outside years"),
    ],
)
def test_a_naive_or_overflowing_date_time_is_a_400_naming_it(
    quiet_api: TestClient, setup: SetUp, name: str, value: str, words: str
) -> None:
    reply = quiet_api.get("/api/v1/conversations", params={name: value}, headers=setup.auth)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["field"] == name
    assert words in error["message"]


@pytest.mark.parametrize(
    "value", ["2026-11-16T15:00:00Z", "2026-11-16T10:00:00-05:00", "9999-12-31T23:59:59Z"]
)
def test_an_aware_date_time_is_taken(quiet_api: TestClient, setup: SetUp, value: str) -> None:
    reply = quiet_api.get(
        "/api/v1/conversations", params={"since": value, "until": value}, headers=setup.auth
    )
    assert reply.status_code == 200, reply.text
