"""Engine and sessions: one session per request or job, committed at the edge.

Services receive a Session and never commit; the route, CLI command or dispatcher step that
opened the session commits it (see polar's postgres.py for the model followed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    column,
    create_engine,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

URL_VARIABLE = "MESSAGECENTER_DATABASE_URL"
URL_EXAMPLES = "sqlite:///path/to/messagecenter.db or postgresql://user:password@host/dbname"
BACKENDS = frozenset({"sqlite", "postgresql", "postgres"})


class DatabaseUnavailable(Exception):
    """The configured database cannot be used; the message names the setting and the fix."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    checked_url(url)
    if url.startswith("sqlite"):
        # SQLite has one writer at a time. One pooled connection makes threads queue for it
        # in the pool (a fair wait) instead of spinning in SQLite's sleeping busy handler.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        # A second session opened while one is held in the same thread would wait forever:
        # fail fast instead (that is a bug: pass the session along).
        kwargs.setdefault("pool_timeout", 15)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's driver opens transactions lazily and never for SELECT; take the write lock
        # at BEGIN instead so read-then-write transactions cannot deadlock (BEGIN IMMEDIATE).
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(_psycopg_url(url), **kwargs)
    ping_idle_connections(engine)
    return engine


class LoopEngine:
    """PostgreSQL: an async engine for code that awaits its database on the event loop (the
    inbound webhook's queue insert, intake/queue.py). One connection, which
    pg_stat_activity shows as application `name`: its user writes one batch at a time. Made
    on the loop of its first use, as its connection belongs to that loop: a server process
    runs one, while tests start one per client, so on another loop the engine is made anew
    (the old one closed). `options` go to create_async_engine (an isolation level)."""

    def __init__(self, url: str, name: str, **options: Any) -> None:
        self._url = _psycopg_url(url)
        self._name = name
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: AsyncEngine | None = None

    async def get(self) -> AsyncEngine:
        loop = asyncio.get_running_loop()
        if self._engine is None or loop is not self._loop:
            await self.close()
            self._loop, self._engine = loop, self._make()
        return self._engine

    async def close(self) -> None:
        """Close its connection (the server's shutdown); the next use opens a new one."""
        if self._engine is not None:
            await self._engine.dispose()
        self._loop, self._engine = None, None

    def _make(self) -> AsyncEngine:
        engine = create_async_engine(
            self._url,
            pool_size=1,
            max_overflow=0,
            connect_args={"application_name": self._name},
            **self._options,
        )
        ping_idle_connections(engine.sync_engine)
        return engine


# A pooled connection idle longer than this is pinged before it is used again.
IDLE_PING_AFTER_SECONDS = 2.0
_LAST_USED = "messagecenter_last_used"  # the pool record's info key: monotonic seconds


def ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection still works before handing it out, when it has been idle:
    a PostgreSQL restart, a failover or an idle timeout in between leaves it dead, and a
    request or worker pass would fail on it. A dead one is replaced (the pool retries the
    checkout with a new connection). `pool_pre_ping` does this on every checkout, a round
    trip before every transaction: under load a tenth of an intake batch's time, for
    connections that answered a moment ago. A connection the server drops while it is busy
    fails that one transaction, as it would with pre-ping; SQLAlchemy then refreshes the
    whole pool."""

    def mark_used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < IDLE_PING_AFTER_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection is gone ({exc})") from exc

    event.listen(engine, "connect", mark_used)
    event.listen(engine, "checkin", mark_used)
    event.listen(engine, "checkout", ping_if_idle)


def checked_url(url: str) -> URL:
    """The URL parsed, or DatabaseUnavailable when it is not one of the two databases run on
    (another dialect would fail later, deep inside a driver import)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"{URL_VARIABLE} is not a database URL: give {URL_EXAMPLES}."
        ) from None
    if parsed.get_backend_name() not in BACKENDS:
        raise DatabaseUnavailable(
            f"{URL_VARIABLE} names {parsed.get_backend_name()!r}: Message Center runs on "
            f"SQLite or PostgreSQL; give {URL_EXAMPLES}."
        )
    return parsed


def unavailable(exc: OperationalError | InterfaceError, url: str) -> DatabaseUnavailable:
    """A failure to connect, said in one line without the password."""
    parsed = checked_url(url)
    said = str(exc.orig or exc).strip()
    reason = said.splitlines()[0] if said else type(exc).__name__
    if parsed.get_backend_name() == "sqlite":
        return DatabaseUnavailable(
            f"{URL_VARIABLE}: cannot open the SQLite file {parsed.database!r} ({reason}); "
            "its directory must exist and be writable."
        )
    shown = parsed.render_as_string(hide_password=True)
    return DatabaseUnavailable(f"{URL_VARIABLE}: cannot reach {shown} ({reason}).")


def _psycopg_url(url: str) -> str:
    # Accept the common spellings and always use psycopg 3.
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit is on disk (the WAL synced) before it returns, so what the app has
    # answered for (a text Twilio is told is stored, a message queued for sending) survives a
    # machine's crash or power cut, not only the app's (NORMAL syncs only at checkpoints).
    # The intake's group commit makes it cheap: one sync per batch of webhooks.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignore(
    session: Session, table: Table, values: Mapping[str, Any], conflict: list[str]
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING on either database: the new row's id, or None when
    a row with the same `conflict` columns already existed (RETURNING tells, portably)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(table.c.id)
    )
    new_id = session.execute(stmt).scalar()
    return int(new_id) if new_id is not None else None


def insert_ignore_many(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], conflict: list[str]
) -> set[Any]:
    """`insert_ignore` for many rows in one statement: the `conflict` values (of the first
    conflict column) of the rows that were new. Every row has the same keys. On PostgreSQL
    the rows go as arrays (`unnested`): the same statement for any number of them."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return set(session.execute(*unnested_insert_ignore(table, rows, conflict)).scalars())
    key = table.c[conflict[0]]
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict).returning(key)
    # An executemany with RETURNING: SQLAlchemy sends it as one multi-row INSERT.
    return set(session.execute(stmt, list(rows)).scalars())


def unnested_insert_ignore(
    table: Table, rows: Sequence[Mapping[str, Any]], conflict: list[str]
) -> tuple[ReturningInsert[Any], dict[str, list[Any]]]:
    """PostgreSQL: `insert_ignore_many`'s statement and its parameters, for a caller that
    runs it on a connection of its own (an async one: intake/queue.py)."""
    names = tuple(rows[0])
    return _unnested_insert_ignore(table, names, tuple(conflict)), as_arrays(rows, names)


@lru_cache(maxsize=64)
def _unnested_insert_ignore(
    table: Table, names: tuple[str, ...], conflict: tuple[str, ...]
) -> ReturningInsert[Any]:
    """insert_ignore_many's PostgreSQL statement, built once for each table and columns (a
    statement built anew costs its cache key on every call)."""
    incoming = unnested("incoming", {name: table.c[name].type for name in names})
    return (
        insert_selected(table, {name: incoming.c[name] for name in names})
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c[conflict[0]])
    )


def insert_selected(table: Table, values: Mapping[str, Any]) -> postgresql.Insert:
    """PostgreSQL: INSERT INTO table (the keys) SELECT the values (columns of an `unnested`
    table, constants)."""
    return postgresql.insert(table).from_select(list(values), select(*values.values()))


def unnested(name: str, columns: Mapping[str, TypeEngine[Any]]) -> TableValuedAlias:
    """PostgreSQL: rows given as one array a column (`as_arrays`), unnested into a table
    `name` with these columns, for an INSERT ... SELECT: one statement for any number of rows,
    with one parameter a column. As a multi-row VALUES, each batch size is a new statement
    with a parameter a value, which psycopg parses anew once it is over 4 KB (13% of a loaded
    intake worker's time) and PostgreSQL plans anew; this one psycopg parses once and
    PostgreSQL prepares. unnest keeps the arrays' order."""
    # One dimension: a value that is itself a list (a JSON column's) stays one item.
    arrays = [
        bindparam(key, type_=postgresql.ARRAY(type_, dimensions=1))
        for key, type_ in columns.items()
    ]
    names = [column(key, type_) for key, type_ in columns.items()]
    return func.unnest(*arrays).table_valued(*names).render_derived(name=name)


def as_arrays(rows: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> dict[str, list[Any]]:
    """The parameters of an `unnested` table: each column's values, in the rows' order."""
    return {key: [row[key] for row in rows] for key in columns}


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the user's own % and _ taken literally
    (use it with escape="\\")."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def among_ids(
    session: Session, column: QueryableAttribute[Any], ids: Collection[int]
) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter: a search's thousand ids would otherwise
    be a thousand placeholders rendered, sent and parsed on every query (PostgreSQL: an
    integer array; SQLite: a JSON array read by json_each)."""
    values = sorted(ids)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", values, type_=postgresql.ARRAY(Integer)))
    listed: Select[tuple[Any]] = select(literal_column("value")).select_from(
        func.json_each(json.dumps(values))
    )
    return column.in_(listed.scalar_subquery())
