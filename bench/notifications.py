"""Notifications benchmark: 10,000 booking reminders for 10,000 clients accepted through the
batch form, in batches of 1,000 — in-process through the service (trigger_many, one
transaction a batch) and through POST /api/v1/notification-batches on an in-process app
(TestClient: the route, validation and JSON, without a network); beside them the same
messages straight through queue_messages, the floor this path cannot go below.

    python -m bench.notifications                      # SQLite, both ways
    python -m bench.notifications --db sqlite,postgresql --ways compose,service,api

Each reminder renders its template (booking time in the business's zone), is checked against
consent and the switches, and queues its message through queue_messages with a due time
(send_at). Target: 10,000 in under 2 s on SQLite (issue #13); printed beside each figure as a
ratio (target seconds / measured seconds: above 1 beats it), with the machine's speed
(bench/machine.py's CPU loop, before and after). Each way runs --repeat times (3) on fresh
clients, the ways taking turns, in a process whose garbage collector is set as a server's
(collector.py), and the best try is reported (with its CPU seconds: a busy
machine shows in the wall time first). Only the server's side is timed: the app is started,
the triggers built and the requests encoded before the clock starts. Writes
bench/results/<date>-notifications.{json,md}. No dispatcher runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.harness import (
    machine_note,
    markdown_table,
    run_on_databases,
    seed_business_with_clients,
)
from messagecenter import collector
from messagecenter.app import create_app
from messagecenter.clock import SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Business, Client, Message, Notification
from messagecenter.notifications import service
from messagecenter.notifications.templates import BookingData
from messagecenter.sending.compose import Outgoing, Sender, queue_messages

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0  # for 10,000 on SQLite (issue #13)


@dataclass
class Run:
    database: str
    way: str
    reminders: int
    seconds: float
    cpu_seconds: float  # this process's CPU time: steadier than seconds on a busy machine
    per_second: float
    ratio_to_target: float  # target / measured, scaled to the run's size: > 1 beats it
    queued: int


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--reminders", type=int, default=10_000, help="per way")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="tries per way on fresh clients; the best is kept"
    )
    parser.add_argument(
        "--ways",
        default="compose,service,api",
        help="any of compose (queue_messages alone, the floor), service, api",
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    run_on_databases(
        "notifications", args, _bench, _report, {"target_seconds_per_10000": TARGET_SECONDS}
    )
    return 0


def _bench(database: str, url: str, args: argparse.Namespace) -> list[Run]:
    ways = [w for w in ("compose", "service", "api") if w in args.ways.split(",")]
    n, repeat = args.reminders, args.repeat
    business_id, api_key, client_ids = seed_business_with_clients(
        url, n * len(ways) * repeat, "notifications"
    )
    context = build_context(Settings(database_url=url))
    collector.tune_for_server()  # as in the server process these ways run in
    tries: dict[str, list[Run]] = {way: [] for way in ways}
    fresh = iter(range(len(ways) * repeat))
    for attempt in range(repeat):  # the ways take turns, so a growing database favours none
        for way in ways:
            k = next(fresh)
            ids = client_ids[k * n : (k + 1) * n]  # distinct clients (new conversations)
            tries[way].append(_measure(context, database, way, f"{way}{attempt}", ids, args,
                                       business_id, api_key))  # fmt: skip
    context.engine.dispose()
    # The best of the tries: what the code can do when the machine lets it.
    return [min(each, key=lambda r: r.seconds) for each in tries.values()]


def _measure(
    context: AppContext,
    database: str,
    way: str,
    label: str,
    ids: list[int],
    args: argparse.Namespace,
    business_id: int,
    api_key: str,
) -> Run:
    n = len(ids)
    with ExitStack() as stack:
        if way == "service":
            name = f"service (trigger_many), {args.batch} a transaction"
            run = _service(context, business_id, ids, args.batch, label)
        elif way == "compose":
            name = f"queue_messages alone (the floor), {args.batch} a transaction"
            run = _compose(context, business_id, ids, args.batch)
        else:
            name = f"API batch (in-process), {args.batch} a request"
            run = _api(stack, context, api_key, ids, args.batch, label)
        started, cpu_started = time.perf_counter(), time.process_time()
        run()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    queued = _queued(context, business_id, label) if way != "compose" else n
    target = TARGET_SECONDS * n / 10_000
    print(f"{database} {name}: {seconds:.2f} s ({cpu_seconds:.2f} s CPU) for {n:,} "
          f"({queued:,} queued), target {target:.2f} s, ratio {target / seconds:.2f}")  # fmt: skip
    return Run(database, name, n, round(seconds, 2), round(cpu_seconds, 2), round(n / seconds),
               round(target / seconds, 2), queued)  # fmt: skip


def _booking(i: int, at: datetime) -> BookingData:
    return BookingData(at + timedelta(days=1, minutes=15 * (i % 40)), "Massage", "Ana", "Main St")


def _service(
    context: AppContext, business_id: int, ids: list[int], size: int, way: str
) -> Callable[[], None]:
    at = SystemClock().now()
    send_at = at + timedelta(hours=20)
    batches = [
        [
            service.Trigger("booking_reminder", f"{way}-{cid}", client_id=cid,
                            data=_booking(cid, at), send_at=send_at)
            for cid in ids[start : start + size]
        ]
        for start in range(0, len(ids), size)
    ]  # fmt: skip

    def run() -> None:
        for triggers in batches:
            with session_scope(context.sessions) as session:
                business = session.get(Business, business_id)
                assert business is not None
                outcomes = service.trigger_many(session, business, triggers, at)
                refused = [o.error for o in outcomes if o.error is not None]
                assert not refused, refused[:3]

    return run


def _compose(
    context: AppContext, business_id: int, ids: list[int], size: int
) -> Callable[[], None]:
    """The same messages straight through queue_messages: what the notification layer adds
    is the difference."""
    at = SystemClock().now()

    def run() -> None:
        for start in range(0, len(ids), size):
            with session_scope(context.sessions) as session:
                business = session.get(Business, business_id)
                assert business is not None
                clients = session.scalars(
                    select(Client).where(Client.id.in_(ids[start : start + size]))
                ).all()
                outgoing = [
                    Outgoing(f"Bench studio: Hi {c.first_name}, a reminder of your Massage on "
                             "Tue, Dec 1 at 3:00 PM. To change it, call (212) 555-0100.",
                             client=c, category="reminders")
                    for c in clients
                ]  # fmt: skip
                results = queue_messages(
                    session, business, outgoing, sender=Sender.automated(), at=at
                )
                assert all(isinstance(r, int) for r in results)

    return run


def _api(
    stack: ExitStack, context: AppContext, api_key: str, ids: list[int], size: int, way: str
) -> Callable[[], None]:
    """The server's side only: the app is started (and has answered once) and each request's
    JSON encoded before the clock starts, and the answers read after each request is timed
    (the booking system's own work is not the service's)."""
    app = create_app(context=context, run_dispatcher=False, server_gc=True)
    http = stack.enter_context(TestClient(app))
    at = SystemClock().now()
    send_at = (at + timedelta(hours=20)).isoformat()
    bodies = [
        json.dumps({"notifications": [
            {"type": "booking_reminder", "reference": f"{way}-{cid}", "client_id": cid,
             "send_at": send_at,
             "data": {"booking_at": _booking(cid, at).booking_at.isoformat(),  # type: ignore[union-attr]
                      "service": "Massage", "staff_name": "Ana", "location": "Main St"}}
            for cid in ids[start : start + size]
        ]}).encode()
        for start in range(0, len(ids), size)
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    # A server that has answered before: the route's first request builds what it keeps.
    warm = http.post("/api/v1/notification-batches", content=b'{"notifications": []}',
                     headers=headers)  # fmt: skip
    assert warm.status_code == 200, warm.text
    answers: list[httpx.Response] = []

    def run() -> None:
        for body in bodies:
            answers.append(http.post("/api/v1/notification-batches", content=body, headers=headers))

    def check() -> None:  # after the clock: reading the answers is the client's work
        assert len(answers) == len(bodies)
        for answer in answers:
            assert answer.status_code == 200, answer.text
            results = answer.json()["results"]
            assert all(r["result"] == "queued" for r in results), results[:3]

    stack.callback(check)
    return run


def _queued(context: AppContext, business_id: int, way: str) -> int:
    with context.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Notification)
                .join(Message, Message.id == Notification.message_id)
                .where(
                    Notification.business_id == business_id,
                    Notification.reference.like(f"{way}-%"),
                    Notification.status == "queued",
                )
            )
            or 0
        )


def _report(
    runs: list[Run], before: dict[str, float], after: dict[str, float], args: argparse.Namespace
) -> str:
    lines = [
        f"# Notifications ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{args.reminders:,} booking reminders per way, each to a distinct client (a new "
        f"conversation), with send_at, in batches of {args.batch:,}; the best of "
        f"{args.repeat} tries per way (the ways taking turns, each on fresh clients). "
        "Target: 10,000 in "
        f"{TARGET_SECONDS:.0f} s on SQLite (issue #13); ratio = target / measured (above 1 "
        "beats it). " + machine_note(before, after),
        "",
        *markdown_table(
            (
                "database",
                "way",
                "seconds",
                "CPU seconds",
                "reminders/s",
                "ratio to target",
                "queued",
            ),
            2,
            [
                (
                    r.database,
                    r.way,
                    str(r.seconds),
                    str(r.cpu_seconds),
                    f"{r.per_second:,.0f}",
                    f"{r.ratio_to_target:.2f}",
                    f"{r.queued:,}",
                )
                for r in runs
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
