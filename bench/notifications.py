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
(bench/machine.py's CPU loop, before and after). Writes
bench/results/<date>-notifications.{json,md}. No dispatcher runs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.harness import (
    machine_note,
    markdown_table,
    run_on_databases,
    seed_business_with_clients,
)
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
    per_second: float
    ratio_to_target: float  # target / measured, scaled to the run's size: > 1 beats it
    queued: int


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--reminders", type=int, default=10_000, help="per way")
    parser.add_argument("--batch", type=int, default=1000)
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
    n = args.reminders
    business_id, api_key, client_ids = seed_business_with_clients(
        url, n * len(ways), "notifications"
    )
    context = build_context(Settings(database_url=url))
    runs = []
    for k, way in enumerate(ways):
        ids = client_ids[k * n : (k + 1) * n]  # distinct clients (new conversations) each way
        started = time.perf_counter()
        if way == "service":
            name = f"service (trigger_many), {args.batch} a transaction"
            _service(context, business_id, ids, args.batch, way)
        elif way == "compose":
            name = f"queue_messages alone (the floor), {args.batch} a transaction"
            _compose(context, business_id, ids, args.batch)
        else:
            name = f"API batch (in-process), {args.batch} a request"
            _api(context, api_key, ids, args.batch, way)
        seconds = time.perf_counter() - started
        queued = _queued(context, business_id, way) if way != "compose" else len(ids)
        target = TARGET_SECONDS * n / 10_000
        ratio = round(target / seconds, 2)
        runs.append(Run(database, name, n, round(seconds, 2), round(n / seconds), ratio, queued))
        print(f"{database} {name}: {seconds:.2f} s for {n:,} ({queued:,} queued), "
              f"target {target:.2f} s, ratio {target / seconds:.2f}")  # fmt: skip
    context.engine.dispose()
    return runs


def _booking(i: int, at: datetime) -> BookingData:
    return BookingData(at + timedelta(days=1, minutes=15 * (i % 40)), "Massage", "Ana", "Main St")


def _service(context: AppContext, business_id: int, ids: list[int], size: int, way: str) -> None:
    at = SystemClock().now()
    send_at = at + timedelta(hours=20)
    for start in range(0, len(ids), size):
        with session_scope(context.sessions) as session:
            business = session.get(Business, business_id)
            assert business is not None
            triggers = [
                service.Trigger("booking_reminder", f"{way}-{cid}", client_id=cid,
                                data=_booking(cid, at), send_at=send_at)
                for cid in ids[start : start + size]
            ]  # fmt: skip
            outcomes = service.trigger_many(session, business, triggers, at)
            refused = [o.error for o in outcomes if o.error is not None]
            assert not refused, refused[:3]


def _compose(context: AppContext, business_id: int, ids: list[int], size: int) -> None:
    """The same messages straight through queue_messages: what the notification layer adds
    is the difference."""
    at = SystemClock().now()
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
            results = queue_messages(session, business, outgoing, sender=Sender.automated(), at=at)
            assert all(isinstance(r, int) for r in results)


def _api(context: AppContext, api_key: str, ids: list[int], size: int, way: str) -> None:
    app = create_app(context=context, run_dispatcher=False)
    at = SystemClock().now()
    send_at = (at + timedelta(hours=20)).isoformat()
    with TestClient(app) as http:
        for start in range(0, len(ids), size):
            items = [
                {"type": "booking_reminder", "reference": f"{way}-{cid}", "client_id": cid,
                 "send_at": send_at,
                 "data": {"booking_at": _booking(cid, at).booking_at.isoformat(),  # type: ignore[union-attr]
                          "service": "Massage", "staff_name": "Ana", "location": "Main St"}}
                for cid in ids[start : start + size]
            ]  # fmt: skip
            answer = http.post(
                "/api/v1/notification-batches",
                json={"notifications": items},
                headers={"Authorization": f"Bearer {api_key}"},
            )
            assert answer.status_code == 200, answer.text
            results = answer.json()["results"]
            assert all(r["result"] == "queued" for r in results), results[:3]


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
        f"conversation), with send_at, in batches of {args.batch:,}. Target: 10,000 in "
        f"{TARGET_SECONDS:.0f} s on SQLite (issue #13); ratio = target / measured (above 1 "
        "beats it). " + machine_note(before, after),
        "",
        *markdown_table(
            ("database", "way", "seconds", "reminders/s", "ratio to target", "queued"),
            2,
            [
                (
                    r.database,
                    r.way,
                    str(r.seconds),
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
