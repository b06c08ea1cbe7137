"""Shared fixtures: a business with a number and the app over a TestClient."""

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
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    session.commit()
    return setup


@pytest.fixture
def api(context: AppContext) -> Iterator[TestClient]:
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client
