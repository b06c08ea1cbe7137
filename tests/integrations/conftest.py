"""Shared fixtures: a business, a local endpoint (a real HTTP server on loopback, allowed by
the setting tests use) and a deliverer on the test's clock and a seeded random."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.integrations.delivery import Backoff, WebhookDeliverer
from tests.factories import SetUp, make_business
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks_allow_private": True})


@pytest.fixture
def context(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> AppContext:
    return build_context(
        settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        rng=random.Random(7),
    )


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    return setup


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def deliverer(sessions: sessionmaker[Session], clock: FrozenClock) -> Iterator[WebhookDeliverer]:
    """One call at a time (the test's sessions share one connection), a 2 s timeout, and a
    backoff of 10 s doubling to at most 80 s, jittered by a seeded random."""
    deliverer = WebhookDeliverer(
        sessions,
        clock,
        timeout=2.0,
        allow_private=True,
        concurrency=1,
        backoff=Backoff(base=timedelta(seconds=10), cap=timedelta(seconds=80)),
        rng=random.Random(3),
    )
    yield deliverer
    deliverer.close()


@pytest.fixture
def api(context: AppContext) -> Iterator[TestClient]:
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client
