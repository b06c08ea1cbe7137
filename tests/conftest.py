"""Test fixtures: a fresh database per run, made by Alembic; each test rolled back.

The backend comes from MESSAGECENTER_TEST_BACKEND: `sqlite` (default, a temporary file) or
`postgresql` (a new database on the server named by MESSAGECENTER_TEST_DATABASE_URL, dropped at
the end). Tests that race several connections use `committed_context`, which commits for real
and empties the tables afterwards.
"""

from __future__ import annotations

import logging
import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import make_engine
from messagecenter.migrate import upgrade
from messagecenter.models import Base

BACKEND = os.environ.get("MESSAGECENTER_TEST_BACKEND", "sqlite")
PUBLIC_URL = "https://mc.example.test"
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_WEBHOOK_SECRET = "twilio-test-shared-key-secret"
START = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "server_error_expected: the test provokes an unexpected exception on purpose "
        "(a logged 500), which would otherwise fail it",
    )


def pytest_report_header() -> str:
    return f"database backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL pass)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """What CompleteServerErrors logged during the test (an unexpected exception each)."""
    handler = _Collect()
    logger = logging.getLogger("messagecenter.server_errors")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_unexpected_server_errors(
    request: pytest.FixtureRequest, server_errors: list[logging.LogRecord]
) -> Iterator[None]:
    """CompleteServerErrors turns any exception into a quiet 500, so a test client's
    raise_server_exceptions no longer shows one: a test that ignores the status would pass.
    Any such log fails the test, with its traceback, unless it is marked
    server_error_expected."""
    yield
    if server_errors and request.node.get_closest_marker("server_error_expected") is None:
        handler = logging.Formatter()
        details = "\n".join(
            f"{record.getMessage()}\n{handler.formatException(record.exc_info)}"
            if record.exc_info
            else record.getMessage()
            for record in server_errors
        )
        pytest.fail(f"the server hit an unexpected exception:\n{details}", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2's production cost (~0.7 s a hash here) would dominate the suite's time."""
    from argon2 import PasswordHasher

    from messagecenter.staff import service

    original = service._hasher
    service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    service._hasher = original


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"unknown MESSAGECENTER_TEST_BACKEND {BACKEND!r}")
    server_url = os.environ.get("MESSAGECENTER_TEST_DATABASE_URL")
    if not server_url:
        raise pytest.UsageError("set MESSAGECENTER_TEST_DATABASE_URL for the PostgreSQL pass")
    name = f"mc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    url_text = url.render_as_string(hide_password=False)
    upgrade(url_text)
    yield url_text
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        public_url=PUBLIC_URL,
        secret_key="test-secret",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        TWILIO_WEBHOOK_SECRET=TWILIO_WEBHOOK_SECRET,
        # A frozen clock never reaches a later send slot: tests of pacing switch it on.
        pace_numbers=False,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection whose outer transaction is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    # Each session's commit releases a savepoint; the test's outer transaction stays open.
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    session = sessions()
    yield session
    session.close()


@pytest.fixture
def context(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> AppContext:
    return build_context(
        settings, clock=clock, engine=engine, sessions=sessions, rng=random.Random(7)
    )


@pytest.fixture
def api(context: AppContext) -> Iterator[TestClient]:
    """The app over HTTP (in-process), with the dispatcher left to the test to run."""
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client


@pytest.fixture
def committed_context(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> Iterator[AppContext]:
    """A context whose units of work really commit (for tests that race connections).
    Every table is emptied afterwards."""
    context = build_context(settings, clock=clock, engine=engine, rng=random.Random(7))
    yield context
    empty_all_tables(engine)


def empty_all_tables(engine: Engine) -> None:
    """Every row gone, for the next test. On PostgreSQL one TRUNCATE: a DELETE checks each
    row's foreign keys, and the keys that point at messages and are never followed in
    production (reply_to_message_id, consent_records.message_id; messages are never deleted)
    have no index, so each deleted message scanned the table: seconds after the 10,000-message
    pacing test, over a minute on a loaded machine. TRUNCATE waits for every open transaction
    on the tables; should one still be open (a connection the test left in a transaction),
    the rows are deleted instead after lock_timeout."""
    tables = list(reversed(Base.metadata.sorted_tables))
    if engine.dialect.name == "postgresql":
        names = ", ".join(engine.dialect.identifier_preparer.format_table(t) for t in tables)
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '10s'"))
                connection.execute(text(f"TRUNCATE {names}"))
            return
        except OperationalError as exc:
            logging.getLogger(__name__).warning("TRUNCATE waited too long (%s); deleting", exc)
    with engine.begin() as connection:
        for table in tables:
            connection.execute(table.delete())
