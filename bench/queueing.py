"""Queueing benchmark: messages created (checked, counted, inserted as queued) per second,
one per transaction through `send_message` against batches through `queue_messages`, and
optionally (--ways ...,api) through the API's batch endpoint on a real `messagecenter serve`.

    python -m bench.queueing                          # SQLite, 20,000 messages
    python -m bench.queueing --db postgresql --ways single,batch,api  # also over HTTP

Every message goes to a distinct client (a new conversation each: the costliest case), from
one business on a hard-stop plan with room to spare (so the allowance is checked and counted
each time). Prints msg/s for each way beside the target (1,000 msg/s, issue #12) as a ratio
and the machine's speed (bench/machine.py's CPU loop, before and after), and writes
bench/results/<date>-queueing.{json,md}. No dispatcher runs beside send_message and
queue_messages; through the API the server's own dispatcher drains to the simulator while the
batches arrive, as it would in production.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.harness import (
    free_port,
    run_on_databases,
    seed_business_with_clients,
    wait_until_up,
)
from messagecenter.clients.queries import contacts_by_id
from messagecenter.clock import SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Business, Client, Message
from messagecenter.sending.compose import Outgoing, Sender, queue_messages, send_message

ROOT = Path(__file__).resolve().parent.parent
TARGET_MSG_S = 1000.0  # issue #12: send_message and the API's send, batch form, on SQLite
BODY = "Hi! Your class tomorrow at 9:00 is confirmed. Reply STOP to opt out."


@dataclass
class Run:
    database: str
    way: str  # "send_message, 1 per transaction", "queue_messages, batches of 500", "API ..."
    messages: int
    seconds: float
    msg_per_s: float
    ratio_to_target: float
    stored: int  # messages of the business found queued (or further) afterwards


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, postgresql or both: sqlite,postgresql"
    )
    parser.add_argument("--messages", type=int, default=20_000, help="per way")
    parser.add_argument("--batch", type=int, default=500, help="messages per queue_messages call")
    parser.add_argument(
        "--ways",
        default="single,batch",
        help="any of single (send_message), batch (queue_messages), api (POST "
        "/api/v1/message-batches on a real serve)",
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    run_on_databases("queueing", args, _bench, _report, {"target_msg_per_s": TARGET_MSG_S})
    return 0


def _bench(database: str, url: str, args: argparse.Namespace) -> list[Run]:
    ways = [w for w in ("single", "batch", "api") if w in args.ways.split(",")]
    business_id, api_key, client_ids = seed_business_with_clients(
        url, args.messages * len(ways), "queueing"
    )
    context = build_context(Settings(database_url=url))
    n = args.messages
    work: dict[str, tuple[str, Callable[[list[int]], float | None]]] = {
        "single": (
            "send_message, 1 per transaction",
            lambda ids: _one_by_one(context, business_id, ids),
        ),
        "batch": (
            f"queue_messages, batches of {args.batch}",
            lambda ids: _batches(context, business_id, ids, args.batch),
        ),
        "api": (
            f"API batch, {args.batch} a request",
            lambda ids: _api(url, api_key, ids, args.batch),
        ),
    }
    runs = []
    for k, way in enumerate(ways):
        ids = client_ids[k * n : (k + 1) * n]  # distinct clients for each way
        name, run = work[way]
        runs.append(_timed(database, name, n, context, business_id, partial(run, ids)))
    context.engine.dispose()
    return runs


def _timed(
    database: str,
    way: str,
    messages: int,
    context: AppContext,
    business_id: int,
    work: Callable[[], float | None],
) -> Run:
    """Time `work` (or take the seconds it measured itself, past its own setup)."""
    before = _stored(context, business_id)
    started = time.perf_counter()
    measured = work()
    seconds = measured if measured is not None else time.perf_counter() - started
    stored = _stored(context, business_id) - before
    rate = messages / seconds
    run = Run(database, way, messages, round(seconds, 2), round(rate, 1),
              round(rate / TARGET_MSG_S, 2), stored)  # fmt: skip
    print(f"  {database:10} {way:36} {rate:8.0f} msg/s  ratio to {TARGET_MSG_S:.0f}: "
          f"{run.ratio_to_target:.2f}  ({stored:,} stored in {seconds:.1f} s)")  # fmt: skip
    return run


def _one_by_one(context: AppContext, business_id: int, client_ids: list[int]) -> None:
    """As the API's single send does it: load the client, send, commit, per message."""
    sender = Sender.automated()
    for client_id in client_ids:
        with session_scope(context.sessions) as session:
            business = session.get(Business, business_id)
            client = session.get(Client, client_id)
            assert business is not None and client is not None
            send_message(session, business, body=BODY, sender=sender, client=client,
                         at=SystemClock().now())  # fmt: skip


def _batches(context: AppContext, business_id: int, client_ids: list[int], size: int) -> None:
    """As a bulk send does: the batch's clients in one query, one queue_messages, commit."""
    sender = Sender.automated()
    for chunk in range(0, len(client_ids), size):
        with session_scope(context.sessions) as session:
            business = session.get(Business, business_id)
            assert business is not None
            clients = contacts_by_id(session, business_id, client_ids[chunk : chunk + size])
            outgoing = [Outgoing(BODY, client=c) for c in clients.values()]
            results = queue_messages(session, business, outgoing, sender=sender,
                                     at=SystemClock().now())  # fmt: skip
            refused = [r for r in results if not isinstance(r, int)]
            assert not refused, refused[0]


def _api(url: str, api_key: str, client_ids: list[int], size: int) -> float:
    """POST /api/v1/message-batches to `messagecenter serve` (its dispatcher running), one
    request at a time; the seconds from the first request to the last answer."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MESSAGECENTER_DATABASE_URL": url, "MESSAGECENTER_PUBLIC_URL": base_url,
           "MESSAGECENTER_SECRET_KEY": "bench"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "messagecenter.cli", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            wait_until_up(str(http.base_url).rstrip("/"))
            headers = {"Authorization": f"Bearer {api_key}"}
            started = time.perf_counter()
            for chunk in range(0, len(client_ids), size):
                items = [{"client_id": i, "body": BODY} for i in client_ids[chunk : chunk + size]]
                answer = http.post("/api/v1/message-batches", json={"messages": items},
                                   headers=headers)  # fmt: skip
                answer.raise_for_status()
                assert answer.json()["refused"] == 0, answer.text[:500]
            return time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _stored(context: AppContext, business_id: int) -> int:
    with context.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Message).where(Message.business_id == business_id)
            )
            or 0
        )


def _report(
    runs: list[Run], before: dict[str, float], after: dict[str, float], args: argparse.Namespace
) -> str:
    lines = [
        f"# Queueing ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{args.messages:,} messages per way, each to a distinct client (a new conversation), "
        f"one business on a hard-stop plan. Target: {TARGET_MSG_S:,.0f} msg/s (issue #12). "
        f"Machine: CPU loop {before['loop_mops']} M iterations/s before, "
        f"{after['loop_mops']} after (bench/machine.py); load average {os.getloadavg()[0]:.2f}.",
        "",
        "| database | way | msg/s | ratio to target | seconds | stored |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r.database} | {r.way} | {r.msg_per_s:,.0f} | {r.ratio_to_target:.2f} | "
            f"{r.seconds} | {r.stored:,} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
