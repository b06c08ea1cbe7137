"""The UTC timestamp type: what it writes on each database and what it reads back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from messagecenter.models.base import UTCDateTime

ZONED = timezone(timedelta(hours=-5))
INSTANTS = [
    datetime(2026, 11, 30, 10, 47, 55, tzinfo=UTC),  # no microseconds: still written
    datetime(2026, 11, 30, 10, 47, 55, 123456, tzinfo=UTC),
    datetime(2026, 11, 30, 5, 47, 55, 500000, tzinfo=ZONED),  # written as its UTC instant
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
]


def test_sqlite_text_is_what_sqlalchemys_datetime_writes() -> None:
    """The fast SQLite writer must write the same text as SQLAlchemy's own (stored values
    are compared as text: a different form would break every time comparison)."""
    dialect = sqlite.dialect()  # type: ignore[no-untyped-call]
    ours = UTCDateTime().bind_processor(dialect)
    reference = sqlite.DATETIME().bind_processor(dialect)
    assert ours is not None and reference is not None
    for instant in INSTANTS:
        assert ours(instant) == reference(instant.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


def test_sqlite_refuses_a_naive_datetime() -> None:
    process = UTCDateTime().bind_processor(sqlite.dialect())  # type: ignore[no-untyped-call]
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 11, 30, 10, 47))


@pytest.fixture
def stamps(connection: Connection) -> Iterator[Table]:
    table = Table(
        "utc_stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
    )
    table.create(connection)
    yield table
    table.drop(connection)


def test_round_trip_keeps_the_instant_and_its_order(connection: Connection, stamps: Table) -> None:
    connection.execute(insert(stamps), [{"at": at} for at in INSTANTS])
    read = connection.scalars(select(stamps.c.at).order_by(stamps.c.at)).all()
    assert read == sorted(INSTANTS)
    assert all(at.tzinfo is UTC for at in read)
    later = connection.scalars(select(stamps.c.id).where(stamps.c.at > INSTANTS[1])).all()
    assert later == [3]  # 05:47:55.5 at -05:00 is 10:47:55.5 UTC: compared as its instant
