"""Logging: one line per request and per background job step that did work, each with the id
of its request or job, as text or as JSON (MESSAGECENTER_LOG_FORMAT=json: one object a line).

The id lives in a context variable, set by the RequestLog middleware for a request (and by
`job_step` for a worker pass), so every record logged while it runs carries it: sync routes run
in a thread pool that copies the context, and the worker's own thread starts with an empty one.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORMATS = ("text", "json")
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept when it is this (ids from a proxy or a caller tie their logs to
# ours); anything else could forge log lines or carry data, and gets a fresh id.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_job_counts: ContextVar[dict[str, int] | None] = ContextVar("job_counts", default=None)

access_log = logging.getLogger("messagecenter.requests")
jobs_log = logging.getLogger("messagecenter.jobs")

# A LogRecord's own attributes; anything else on a record came as `extra=` (its fields).
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    "color_message",  # uvicorn's copy of its message with terminal colours
}


class RequestIdFilter(logging.Filter):
    """Puts the current request's (or job's) id on every record: `-` outside both."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id]: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get() or "-"
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the fields
        pairs = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{first} {pairs}{newline}{rest}"


def logging_config(log_format: str = "text") -> dict[str, Any]:
    """A dictConfig for the process: the root logger writes through our formatter, with the
    request id. Given to uvicorn as its log_config, so its own (error) logs and those of its
    worker processes go the same way; its access log stays off (RequestLog writes ours)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: give text or json")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "messagecenter.logs.Handler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"level": "INFO", "handlers": ["default"]},
        "loggers": {
            # uvicorn's loggers propagate to ours (its default config would give them its own).
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "alembic": {"level": "WARNING"},
            "twilio.http_client": {"level": "WARNING"},  # every request's headers
            "httpx": {"level": "WARNING"},  # every URL, phone numbers in a lookup's query too
        },
    }


class Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours: configure_logging replaces it, and leaves any other handler's setup alone."""


def configure_logging(log_format: str = "text") -> None:
    """The process's logging, unless someone else configured the root logger already (a test
    harness, a program embedding us): then, like logging.basicConfig, nothing changes."""
    import logging.config

    if any(not isinstance(handler, Handler) for handler in logging.getLogger().handlers):
        return
    logging.config.dictConfig(logging_config(log_format))


# Request and job ids only tell log lines apart; they guard nothing, so they come from a
# generator seeded once from the OS (reseeded in a forked child, which would otherwise repeat
# its parent's ids) rather than a uuid4's read of os.urandom per request (6 % of an inbound
# webhook's event-loop time).
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_id() -> str:
    """32 hex digits, as a uuid4's hex has."""
    return f"{_ids.getrandbits(128):032x}"


def incoming_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is well formed, else a new one."""
    if value and _SAFE_ID.fullmatch(value):
        return value
    return new_id()


def _redacted_query(query: bytes) -> str:
    """The query's parameter names only: values may carry personal data (a search, a phone)."""
    names = [part.split(b"=", 1)[0].decode("latin-1") for part in query.split(b"&") if part]
    return "&".join(f"{name}=…" for name in names)


class RequestLog:
    """Pure ASGI middleware, outermost: gives each HTTP request an id (context variable and
    X-Request-ID response header) and writes one line when it ends: method, path, redacted
    query, status, duration in ms."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = incoming_id(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception that escaped everything

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if scope.get("query_string"):
                fields["query"] = _redacted_query(scope["query_string"])
            access_log.info(
                "%s %s %s %.1f ms",
                fields["method"],
                fields["path"],
                status,
                fields["duration_ms"],
                extra=fields,
            )
            request_id.reset(token)


def count(**counts: int) -> None:
    """Add to the current job step's counts (nothing outside a job step)."""
    current = _job_counts.get()
    if current is None:
        return
    for name, value in counts.items():
        current[name] = current.get(name, 0) + value


@contextmanager
def job_step(job: str) -> Iterator[str]:
    """One step of a background job, with its own id on every record logged inside; when it
    counted any work (`count`), one line says what, how much and how long."""
    jid = f"job-{new_id()[:16]}"
    id_token = request_id.set(jid)
    counts: dict[str, int] = {}
    counts_token = _job_counts.set(counts)
    started = time.perf_counter()
    try:
        yield jid
    finally:
        _job_counts.reset(counts_token)
        done = {name: value for name, value in counts.items() if value}
        if done:
            duration = round((time.perf_counter() - started) * 1000, 1)
            summary = ", ".join(f"{value} {name}" for name, value in done.items())
            jobs_log.info(
                "%s: %s in %.1f ms",
                job,
                summary,
                duration,
                extra={"job": job, "job_id": jid, "duration_ms": duration, **done},
            )
        request_id.reset(id_token)


def run_passes(
    job: str,
    run_once: Callable[[threading.Event], int],
    stop: threading.Event,
    wake: threading.Event,
    poll_seconds: float,
    log: logging.Logger,
) -> None:
    """A background job's loop: pass after pass (each a job_step) until `stop`; after a pass
    that found nothing, wait for `wake` or `poll_seconds`. A pass that fails is logged and the
    loop goes on (the database may be briefly away)."""
    while not stop.is_set():
        try:
            with job_step(job):  # one log line when it did work, with its id
                busy = run_once(stop)
        except Exception:
            log.exception("%s failed", job)
            busy = 0
        if not busy:
            wake.wait(poll_seconds)
            wake.clear()
