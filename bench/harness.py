"""What the benchmarks share: a fresh database, a free port, waiting for a server, sampling its
memory, and writing a result file pair (bench/results/<stamp>-<name>.md and .json).

    url, drop = fresh_database("postgresql", pg_url, prefix="mc_dispatch")
    try: ... finally: drop()
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from bench.machine import cpu_speed, describe, max_process_rss_mb


def fresh_database(
    database: str, pg_url: str, prefix: str = "mc_bench"
) -> tuple[str, Callable[[], None]]:
    """An empty database and the function that drops it: a SQLite file in a new temporary
    directory, or a new database on the PostgreSQL server at `pg_url`."""
    if database == "sqlite":
        path = Path(tempfile.mkdtemp(prefix=prefix.replace("_", "-") + "-")) / "bench.db"
        return f"sqlite:///{path}", lambda: None
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(pg_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base_url: str) -> None:
    """Until the server at `base_url` answers /healthz (a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base_url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {base_url} did not start")


class PeakRss:
    """Samples the largest process of a server's tree every 0.2 s on a thread until stopped."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._peak = max_process_rss_mb(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self._peak = max(self._peak, max_process_rss_mb(self._pid))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return max(self._peak, max_process_rss_mb(self._pid))


def write_results(out: Path, name: str, report: str, payload: dict[str, object]) -> Path:
    """bench/results/<UTC stamp>-<name>.md (the report) and .json (the payload); the .md."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    (out / f"{stamp}-{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    written = out / f"{stamp}-{name}.md"
    written.write_text(report if report.endswith("\n") else report + "\n")
    return written


def seed_business_with_clients(url: str, clients: int, name: str) -> tuple[int, str, list[int]]:
    """Migrate `url`, then one business on the simulator with an SMS number and room to spare
    on a hard-stop plan, and `clients` clients with distinct, valid New York cell phones (every
    switch on but marketing). Returns the business id, its API key and the client ids in order."""
    from argon2 import PasswordHasher

    from messagecenter.businesses.service import NewBusiness, create_business
    from messagecenter.clock import SystemClock
    from messagecenter.config import Settings
    from messagecenter.context import build_context
    from messagecenter.db import session_scope
    from messagecenter.migrate import upgrade
    from messagecenter.models import Client
    from messagecenter.numbers.service import enable_messaging, suggest_numbers
    from messagecenter.staff import service as staff

    staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # setup only
    upgrade(url)
    context = build_context(Settings(database_url=url))
    at = SystemClock().now()
    with session_scope(context.sessions) as session:
        created = create_business(
            session,
            NewBusiness("Bench studio", "US", "America/New_York", "+12125550100", 10**9,
                        "hard_stop", Decimal(0), f"{name}@studio.example"),
            at,
        )  # fmt: skip
        chosen = suggest_numbers(session, created.business, context.carrier)[0]
        enable_messaging(session, created.business, context.carrier, chosen, "http://bench", at)
        business_id = created.business.id
        rows = [
            {"business_id": business_id, "first_name": f"Client {i}", "last_name": "Bench",
             "cell_phone": f"+1646{2_000_000 + i:07d}", "sms_reminders": True, "sms_account": True,
             "sms_marketing": False, "created_at": at, "updated_at": at}
            for i in range(clients)
        ]  # fmt: skip
        for chunk in range(0, clients, 5000):
            session.execute(insert(Client), rows[chunk : chunk + 5000])
        ids = list(
            session.scalars(
                select(Client.id).where(Client.business_id == business_id).order_by(Client.id)
            )
        )
        api_key = created.api_key
    context.engine.dispose()
    return business_id, api_key, ids


def run_on_databases(
    name: str,
    args: argparse.Namespace,
    bench: Callable[[str, str, argparse.Namespace], Sequence[Any]],
    report: Callable[[list[Any], dict[str, float], dict[str, float], argparse.Namespace], str],
    target: dict[str, object],
) -> None:
    """`bench(database, url, args)` on a fresh database for each of `args.db` (its dataclass
    results), between two measures of the machine's speed; prints `report` and writes it with
    the results, the machine and `target` as bench/results/<stamp>-<name>.*."""
    before = cpu_speed()
    print(f"machine: CPU loop {before['loop_mops']} M iterations/s (bench/machine.py)")
    runs: list[Any] = []
    databases = ["sqlite", "postgresql"] if args.db == "both" else args.db.split(",")
    unknown = [d for d in databases if d not in ("sqlite", "postgresql")]
    if unknown:  # a typo would otherwise run on PostgreSQL under the typo's name
        raise SystemExit(f"--db takes sqlite, postgresql, both or sqlite,postgresql: not {unknown}")
    for database in databases:
        url, drop = fresh_database(database, args.pg_url, f"mc_{name}")
        try:
            runs.extend(bench(database, url, args))
        finally:
            drop()
    after = cpu_speed()
    text = report(runs, before, after, args)
    print(text)
    write_results(
        Path(args.out),
        name,
        text,
        {
            **target,
            "machine": describe(before),
            "cpu_speed_after": after,
            "args": vars(args),
            "results": [asdict(r) for r in runs],
        },
    )


def machine_note(before: dict[str, float], after: dict[str, float]) -> str:
    """The machine's speed around a run, for a report's first paragraph."""
    return (
        f"Machine: CPU loop {before['loop_mops']} M iterations/s before, {after['loop_mops']} "
        f"after (bench/machine.py); load average {os.getloadavg()[0]:.2f}."
    )


def markdown_table(
    header: Sequence[str], numeric_from: int, rows: Sequence[Sequence[str]]
) -> list[str]:
    """A Markdown table's lines; columns from `numeric_from` on are right-aligned."""
    rule = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(cells) + " |" for cells in (header, rule, *rows)]
