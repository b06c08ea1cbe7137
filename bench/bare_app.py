"""The ceiling for the intake benchmark: the same server stack and database driver, doing only
what any intake must — check the Twilio signature and insert one row in its own transaction.

It gets the same process tuning as `messagecenter serve` (gc.freeze at startup), so the ratio
measures the intake's own work, not a handicap of the ceiling."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert

from messagecenter.carriers.twilio.signature import FormParams, SignatureChecker
from messagecenter.db import make_engine, make_session_factory, session_scope

metadata = MetaData()
bare_messages = Table(
    "bench_bare_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("carrier_sid", String(64), unique=True, nullable=False),
    Column("from_phone", String(20), nullable=False),
    Column("to_phone", String(20), nullable=False),
    Column("body", Text, nullable=False),
)


def create_bare_app() -> FastAPI:
    database_url = os.environ["MESSAGECENTER_DATABASE_URL"]
    public_url = os.environ["MESSAGECENTER_PUBLIC_URL"].rstrip("/")
    engine = make_engine(database_url)
    metadata.create_all(engine)
    sessions = make_session_factory(engine)
    checker = SignatureChecker(os.environ["TWILIO_AUTH_TOKEN"], None)
    # Whichever measured faster, so the ceiling is as high as this stack allows: on SQLite
    # (one writer) a single database thread, on PostgreSQL the threadpool, whose concurrent
    # commits share a WAL flush.
    db_thread = ThreadPoolExecutor(
        max_workers=1 if engine.dialect.name == "sqlite" else 32, thread_name_prefix="bare-db"
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gc.collect()
        gc.freeze()
        yield
        db_thread.shutdown()

    app = FastAPI(lifespan=lifespan)

    def store(params: FormParams) -> None:
        with session_scope(sessions) as session:
            session.execute(
                insert(bare_messages).values(
                    carrier_sid=params.first("MessageSid"),
                    from_phone=params.first("From"),
                    to_phone=params.first("To"),
                    body=params.first("Body") or "",
                )
            )

    @app.post("/webhooks/twilio/sms")
    async def intake(request: Request) -> Response:
        raw = await request.body()
        params = FormParams.from_pairs(parse_qsl(raw.decode(), keep_blank_values=True))
        url = public_url + request.url.path
        if not checker.is_valid(url, params, request.headers):
            return Response("Invalid Twilio signature.\n", 403)
        await asyncio.get_running_loop().run_in_executor(db_thread, store, params)
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")

    return app
