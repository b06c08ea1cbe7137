"""The engine's settings that promises rest on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

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
