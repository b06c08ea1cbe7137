"""The ceiling for the intake benchmark: the fastest endpoint we could write that does the work
every intake must do for one Twilio webhook, and nothing else.

Per request: read the form body, parse it (`parse_qsl`), check the signature with the `twilio`
package's RequestValidator (the same call the app makes), and INSERT one row in its own
transaction, committed before the 200 `<Response/>` goes out. How it is made fast:

- A bare ASGI callable under uvicorn (uvloop, httptools): no framework, no routing, no
  middleware, no Request object; headers are read straight from the scope.
- An async driver, so no thread pool hop per request: aiosqlite on SQLite (one connection in
  autocommit mode, so the INSERT is its own transaction and its commit; WAL, and
  `synchronous` as the app's intake commits, FULL by default: BARE_SQLITE_SYNCHRONOUS), on one
  uvicorn worker (SQLite has one writer); asyncpg on PostgreSQL (a pool of 32 connections,
  each INSERT an autocommitted transaction, whose concurrent commits PostgreSQL flushes
  together), on two workers like the app's `serve --workers 2`.
- Prepared statements (asyncpg prepares and caches them; sqlite3 caches them), gc.freeze at
  startup like `messagecenter serve`.

It does no group commit of its own: one commit per request is what a minimal endpoint does,
and is the figure the full intake (which batches) is asked to reach.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from messagecenter.carriers.twilio.signature import FormParams

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH = "/webhooks/twilio/sms"
TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
OK_HEADERS = [(b"content-type", b"text/xml"), (b"content-length", str(len(TWIML)).encode())]
FORBIDDEN = b"Invalid Twilio signature.\n"
CREATE = (
    "CREATE TABLE IF NOT EXISTS bench_bare_messages ("
    " id {id} PRIMARY KEY, carrier_sid VARCHAR(64) NOT NULL UNIQUE,"
    " from_phone VARCHAR(20) NOT NULL, to_phone VARCHAR(20) NOT NULL, body TEXT NOT NULL)"
)
INSERT_SQLITE = (
    "INSERT INTO bench_bare_messages (carrier_sid, from_phone, to_phone, body) VALUES (?, ?, ?, ?)"
)
INSERT_PG = (
    "INSERT INTO bench_bare_messages (carrier_sid, from_phone, to_phone, body) "
    "VALUES ($1, $2, $3, $4)"
)


class BareIntake:
    """The ASGI app: POST /webhooks/twilio/sms, and GET of anything else answers 200 (the
    benchmark's readiness probe)."""

    def __init__(self, database_url: str, public_url: str, auth_token: str) -> None:
        self._database_url = database_url
        self._public_url = public_url.rstrip("/")
        self._validator = RequestValidator(auth_token)
        self._insert: Callable[[tuple[str, str, str, str]], Awaitable[object]] | None = None
        self._close: Callable[[], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["method"] != "POST" or scope["path"] != PATH:
            await _respond(send, 200, b"ok\n", b"text/plain")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        params = FormParams.from_pairs(parse_qsl(body.decode(), keep_blank_values=True))
        signature = ""
        for name, value in scope["headers"]:
            if name == b"x-twilio-signature":
                signature = value.decode("latin-1")
                break
        if not self._validator.validate(self._public_url + PATH, params, signature):
            await _respond(send, 403, FORBIDDEN, b"text/plain")
            return
        assert self._insert is not None
        await self._insert(
            (
                params.first("MessageSid") or "",
                params.first("From") or "",
                params.first("To") or "",
                params.first("Body") or "",
            )
        )
        await send({"type": "http.response.start", "status": 200, "headers": OK_HEADERS})
        await send({"type": "http.response.body", "body": TWIML})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._open()
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._close is not None:
                    await self._close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _open(self) -> None:
        if self._database_url.startswith("sqlite"):
            import aiosqlite

            path = self._database_url.split("///", 1)[1]
            connection = await aiosqlite.connect(path, isolation_level=None)  # autocommit
            await connection.execute("PRAGMA journal_mode=WAL")
            synchronous = os.environ.get("BARE_SQLITE_SYNCHRONOUS", "FULL")
            await connection.execute(f"PRAGMA synchronous={synchronous}")
            await connection.execute("PRAGMA busy_timeout=10000")
            await connection.execute(CREATE.format(id="INTEGER"))

            async def insert_sqlite(row: tuple[str, str, str, str]) -> object:
                return await connection.execute(INSERT_SQLITE, row)

            self._insert, self._close = insert_sqlite, connection.close
            return
        import asyncpg

        dsn = self._database_url.replace("postgresql+psycopg://", "postgresql://")
        pool = await asyncpg.create_pool(dsn, min_size=32, max_size=32)
        async with pool.acquire() as connection:
            # Two workers start at once: one creates the table, the other waits on its lock.
            await connection.execute("SELECT pg_advisory_lock(4242)")
            await connection.execute(CREATE.format(id="SERIAL"))
            await connection.execute("SELECT pg_advisory_unlock(4242)")

        async def insert_pg(row: tuple[str, str, str, str]) -> object:
            return await pool.execute(INSERT_PG, *row)

        self._insert, self._close = insert_pg, pool.close


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_bare_app() -> BareIntake:
    return BareIntake(
        os.environ["MESSAGECENTER_DATABASE_URL"],
        os.environ["MESSAGECENTER_PUBLIC_URL"],
        os.environ["TWILIO_AUTH_TOKEN"],
    )
