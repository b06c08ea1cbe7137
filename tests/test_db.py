"""The engine's settings that promises rest on."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from messagecenter import db
from messagecenter.db import make_engine


def test_sqlite_commits_are_synced_to_disk_before_they_return(tmp_path: Path) -> None:
    """synchronous=FULL (2) in WAL mode: an answered webhook's commit survives a machine
    crash, not only the app's (NORMAL, 1, syncs the WAL only at checkpoints)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA synchronous")) == 2
    finally:
        engine.dispose()


def _postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("pooled PostgreSQL connections: the PostgreSQL pass tests them")


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_a_moment_ago_goes_out_without_a_ping(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trip before each transaction under load (pool_pre_ping made one each)."""
    _postgresql(database_url)
    engine = make_engine(database_url)
    try:
        pings = _counting_pings(engine, monkeypatch)
        for _ in range(5):
            with engine.begin() as connection:
                assert connection.scalar(text("SELECT 1")) == 1
        assert pings == []
        monkeypatch.setattr(db, "IDLE_PING_AFTER_SECONDS", 0.0)  # every one is "idle" now
        with engine.begin() as connection:
            connection.scalar(text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart or an idle timeout kills pooled connections: the next transaction still
    works, on a new one, instead of failing on the dead one."""
    _postgresql(database_url)
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        killer = make_engine(database_url)
        with killer.begin() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        killer.dispose()
        monkeypatch.setattr(db, "IDLE_PING_AFTER_SECONDS", 0.0)  # it has been idle long enough
        with engine.begin() as connection:
            second = connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        engine.dispose()
