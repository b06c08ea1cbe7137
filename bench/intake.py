"""Intake benchmark: signed, unique, Twilio-shaped inbound webhooks against `messagecenter
serve`, compared in the same run with the ceiling: the fastest minimal endpoint doing the same
work, one INSERT and COMMIT per request through an async driver (bench/bare_app.py).

    python -m bench.intake                         # both databases, concurrency 16 and 64
    python -m bench.intake --databases sqlite --duration 10 --repeat 3
    python -m bench.intake --databases postgresql --accept-only   # also the webhook alone

With --accept-only, each PostgreSQL pair is followed by a third run, `serve --no-worker`: the
webhook's own path (form, signature, the text queued durably in a group commit) with nothing
recording the queue during the load, so its rate beside the ceiling's shows what the recording
costs. It is reported apart and is not the target's figure: the texts it answers are not yet
in any inbox.

Needs wrk (Debian: apt-get install wrk) and, for PostgreSQL, a server at --pg-url. Prints the
throughput, p50 / p99 latency, rows stored and peak server memory of both, the ratio full /
bare against the target (1.0) and p99 against its target (< 50 ms at concurrency 16), the
machine's speed on a fixed CPU loop before and after (bench/machine.py), and writes the
result under bench/results/. With --repeat N each pair runs N times, alternating, and the
report gives the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, delete, func, select, text
from twilio.request_validator import RequestValidator

from bench.harness import PeakRss, free_port, fresh_database, wait_until_up, write_results
from bench.machine import cpu_seconds, cpu_speed, describe
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.clock import SystemClock
from messagecenter.config import Settings
from messagecenter.context import build_context
from messagecenter.db import session_scope
from messagecenter.migrate import upgrade
from messagecenter.models import InboundQueueItem, Message
from messagecenter.numbers.service import enable_messaging, suggest_numbers

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "b" * 32
# One business per area code (the simulator offers 100 numbers in each).
AREA_CODES = (
    "212",
    "312",
    "415",
    "646",
    "718",
    "202",
    "305",
    "404",
    "512",
    "617",
    "702",
    "713",
    "206",
    "303",
    "503",
    "602",
    "612",
    "615",
    "704",
    "919",
)
BUSINESSES = len(AREA_CODES)
CLIENT_PHONES = 2000
TARGET_RATIO = 1.0
TARGET_RSS_MB = 200.0  # per server process
TARGET_P99_MS = 50.0


@dataclass
class RunResult:
    database: str
    app: str
    processes: int
    concurrency: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    rows_stored: int  # durably stored when the load ended (queued or processed)
    answered: int  # responses wrk received (each one's text must be among the rows stored)
    non_2xx: int
    socket_errors: int
    processed: int = 0  # full app: messages made from them once the queue drained
    drain_s: float = 0.0  # full app: how long the queue took to drain after the load
    peak_rss_mb: float = 0.0  # the largest server process, sampled through the load
    # CPU (user + system) of the whole server tree through the load, per answered request:
    # steadier than req/s when other work shares the machine.
    cpu_ms_per_request: float = 0.0
    load_average: float = 0.0  # the machine's 1-minute load average as the run ended
    repeat: int = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--duration", type=int, default=15, help="seconds per run")
    parser.add_argument(
        "--requests",
        type=int,
        default=200_000,
        help="pre-signed per run; a run that needs more fails rather than send one twice",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each pair (spread)")
    parser.add_argument(
        "--accept-only",
        action="store_true",
        help="PostgreSQL: also run serve --no-worker (the webhook alone, nothing recorded)",
    )
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.concurrency.split(",")]
    results: list[RunResult] = []
    speed_before = cpu_speed()
    print(f"machine speed before: {speed_before}")
    workdir = Path(tempfile.mkdtemp(prefix="mc-bench-"))
    for database in args.databases.split(","):
        url, drop = fresh_database(database, args.pg_url)
        try:
            numbers = _seed(url)
            processes = 1 if database == "sqlite" else 2
            for concurrency in levels:
                for repeat in range(args.repeat):
                    apps = ["bare", "full"]
                    if args.accept_only and database == "postgresql":
                        apps.append("accept")
                    for app in apps:
                        results.append(
                            _run(app, database, url, numbers, processes, concurrency, args, workdir)
                        )
                        results[-1].repeat = repeat
                        _print(results[-1])
                    bare = results[-len(apps)]
                    for other in results[-len(apps) + 1 :]:
                        _print_ratio(bare, other)
        finally:
            drop()
    speed_after = cpu_speed()
    print(f"machine speed after: {speed_after}")
    machine = describe(speed_before) | {"cpu_speed_after": speed_after}
    report = _report(results, levels, machine)
    print(report)
    write_results(
        Path(args.out),
        "intake",
        report,
        {"machine": machine, "results": [asdict(r) for r in results]},
    )
    return 0


def _seed(url: str) -> list[str]:
    """Businesses on the simulator, each with an SMS number; returns the numbers."""
    from argon2 import PasswordHasher

    from messagecenter.staff import service as staff

    staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # setup only
    upgrade(url)
    context = build_context(Settings(database_url=url))
    numbers = []
    with session_scope(context.sessions) as session:
        for n in range(BUSINESSES):
            created = create_business(
                session,
                NewBusiness(
                    name=f"Bench studio {n}",
                    country="US",
                    timezone="America/New_York",
                    business_phone=f"+1{AREA_CODES[n]}5550100",
                    monthly_allowance=1_000_000,
                    overage_policy="hard_stop",
                    overage_price_per_unit=Decimal(0),
                    owner_email=f"bench{n}@studio.example",
                ),
                SystemClock().now(),
            )
            chosen = suggest_numbers(session, created.business, context.carrier)[0]
            number = enable_messaging(
                session,
                created.business,
                context.carrier,
                chosen,
                "http://bench",
                SystemClock().now(),
            )
            numbers.append(number.phone_number)
    context.engine.dispose()
    return numbers


def _requests_file(path: Path, base_url: str, numbers: list[str], count: int) -> int:
    """Pre-sign `count` unique inbound webhooks; returns the average form body in bytes (wrk
    adds the headers Twilio sends, about 340 bytes more: bench/wrk_intake.lua)."""
    validator = RequestValidator(AUTH_TOKEN)
    url = base_url + "/webhooks/twilio/sms"
    run = uuid.uuid4().hex[:10]
    total = 0
    with path.open("w") as out:
        for i in range(count):
            sid = f"SM{run}{i:022x}"
            from_phone = f"+1212555{(i * 7919) % CLIENT_PHONES:04d}"
            form = {
                "ToCountry": "US",
                "ToState": "NY",
                "SmsMessageSid": sid,
                "NumMedia": "0",
                "ToCity": "NEW YORK",
                "FromZip": "10001",
                "SmsSid": sid,
                "FromState": "NY",
                "SmsStatus": "received",
                "FromCity": "NEW YORK",
                "Body": (
                    f"Hi! Could I move my 3pm appointment on Friday to 4pm instead? My sister "
                    f"would like to come along too, is there room for two? Thanks so much #{i}"
                ),
                "FromCountry": "US",
                "To": numbers[i % len(numbers)],
                "ToZip": "10001",
                "NumSegments": "1",
                "MessageSid": sid,
                "AccountSid": ACCOUNT_SID,
                "From": from_phone,
                "ApiVersion": "2010-04-01",
                "MessagingServiceSid": "MG" + "c" * 32,
                "ReferralNumMedia": "0",
            }
            body = urlencode(form)
            total += len(body)
            token = f"{uuid.uuid4()}"  # Twilio's I-Twilio-Idempotency-Token header
            out.write(f"{validator.compute_signature(url, form)}\t{token}\t{body}\n")
    return total // count


def _run(
    app: str,
    database: str,
    url: str,
    numbers: list[str],
    processes: int,
    concurrency: int,
    args: argparse.Namespace,
    workdir: Path,
) -> RunResult:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MESSAGECENTER_DATABASE_URL": url,
        "MESSAGECENTER_PUBLIC_URL": base_url,
        "MESSAGECENTER_SECRET_KEY": "bench",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    }
    if app in ("full", "accept"):
        command = [sys.executable, "-m", "messagecenter.cli", "serve", "--port", str(port)]
        if processes > 1:
            command += ["--workers", str(processes)]
        if app == "accept":
            command.append("--no-worker")  # the webhook alone: texts queued, none recorded
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.bare_app:create_bare_app",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    requests_path = workdir / f"{app}-{database}-{concurrency}.tsv"
    body_size = _requests_file(requests_path, base_url, numbers, args.requests)
    server = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(base_url)
        before = _rows(url, app)
        peak = PeakRss(server.pid)
        cpu_before = cpu_seconds(server.pid)
        wrk = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{concurrency}",
                f"-d{args.duration}s",
                "--latency",
                "-s",
                str(ROOT / "bench" / "wrk_intake.lua"),
                base_url,
            ],
            env={**os.environ, "BENCH_REQUESTS": str(requests_path), "BENCH_THREADS": "2"},
            capture_output=True,
            text=True,
            check=True,
        )
        cpu_used = cpu_seconds(server.pid) - cpu_before
        peak_rss = peak.stop()
        stored = _rows(url, app) - before
        processed, drain = stored, 0.0
        if app == "full":
            processed, drain = _drain(url, before)
        elif app == "accept":
            processed = _discard_queue(url)  # counted; left, they would load the next run
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"  ({app}, {database}, c={concurrency}: {body_size}-byte bodies on average)")
    sent = re.search(r"(\d+) requests in", wrk.stdout)
    if sent is None or int(sent.group(1)) > args.requests:
        raise SystemExit(
            f"wrk sent {sent.group(1) if sent else '?'} requests but only {args.requests} "
            "unique ones were signed, so some were replays: raise --requests"
        )
    result = _parse(wrk.stdout, app, database, processes, concurrency, args.duration, stored)
    result.processed, result.drain_s = processed, drain
    result.peak_rss_mb = peak_rss
    result.cpu_ms_per_request = 1000 * cpu_used / result.answered if result.answered else 0.0
    result.load_average = os.getloadavg()[0]
    if result.rows_stored < result.answered - result.non_2xx:
        print(f"  LOST: {result.answered - result.non_2xx} answered 2xx, {stored} stored")
    return result


def _drain(url: str, before: int) -> tuple[int, float]:
    """Wait for the worker to empty the inbound queue; messages made and seconds taken."""
    start = time.monotonic()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        while time.monotonic() - start < 120:
            with engine.connect() as connection:
                queued = connection.scalar(select(func.count()).select_from(InboundQueueItem))
                if not queued:
                    made = connection.scalar(select(func.count()).select_from(Message)) or 0
                    return int(made) - before, time.monotonic() - start
            time.sleep(0.1)
    finally:
        engine.dispose()
    return -1, time.monotonic() - start


def _discard_queue(url: str) -> int:
    """Empty the inbound queue an accept-only run filled (this benchmark's own database);
    how many texts it held."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            return connection.execute(delete(InboundQueueItem)).rowcount
    finally:
        engine.dispose()


def _rows(url: str, app: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            if app in ("full", "accept"):
                # One statement, so one snapshot: a text the worker moves from the queue to
                # the messages between two counts would be missed by both.
                messages = select(func.count()).select_from(Message).scalar_subquery()
                queued = select(func.count()).select_from(InboundQueueItem).scalar_subquery()
                return int(connection.scalar(select(messages + queued)) or 0)
            exists = connection.dialect.has_table(connection, "bench_bare_messages")
            if not exists:
                return 0
            return int(connection.scalar(text("SELECT count(*) FROM bench_bare_messages")) or 0)
    finally:
        engine.dispose()


def _parse(
    output: str,
    app: str,
    database: str,
    processes: int,
    concurrency: int,
    duration: int,
    stored: int,
) -> RunResult:
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    sent = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return RunResult(
        database,
        app,
        processes,
        concurrency,
        duration,
        float(rps.group(1)) if rps else 0.0,
        latency("50"),
        latency("99"),
        stored,
        int(sent.group(1)) if sent else 0,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def _print(r: RunResult) -> None:
    print(
        f"{r.database:10} {r.app:4} c={r.concurrency:<3} {r.requests_per_s:8.0f} req/s  "
        f"p50 {r.p50_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms  answered {r.answered}  "
        f"rows {r.rows_stored}  "
        f"non-2xx {r.non_2xx}  socket errors {r.socket_errors}  "
        f"peak RSS {r.peak_rss_mb:.0f} MB/process  CPU {r.cpu_ms_per_request:.2f} ms/request  "
        f"load {r.load_average:.1f}"
    )


def _print_ratio(bare: RunResult, other: RunResult) -> None:
    ratio = other.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
    if other.app == "full":
        print(f"  ratio full / ceiling: {ratio:.2f} (target >= {TARGET_RATIO})")
    else:
        print(f"  ratio webhook alone (texts queued, none recorded) / ceiling: {ratio:.2f}")


def _report(results: list[RunResult], levels: list[int], machine: dict[str, object]) -> str:
    lines = [
        "# Intake benchmark",
        "",
        "Machine: " + json.dumps(machine),
        "",
        "Ceiling (bare): bench/bare_app.py, one INSERT and COMMIT per request through an async "
        "driver (aiosqlite, one worker; asyncpg, two workers). Full: `messagecenter serve`.",
        "Figures are provisional: the machine is shared. Each row is one run; the spread lines "
        "give min / median / max over the repeats.",
        f"A disk flush (what each commit waits for) costs {machine.get('disk_flush_ms', '?')} "
        "ms on this machine: where it is near zero, the ceiling's commit per request is nearly "
        "free and both sides are bound by CPU, the full intake doing the whole of its work "
        "(routing, replays, conversations, usage, unread, keywords) on top of the ceiling's.",
        "",
        f"| database | processes | concurrency | run | bare req/s | full req/s | ratio full/bare "
        f"(target ≥ {TARGET_RATIO}) | bare p50 / p99 ms | full p50 / p99 ms (target p99 < "
        f"{TARGET_P99_MS:.0f} at c16) | answered / rows stored, bare | answered / rows stored, "
        f"full | non-2xx bare / full | peak RSS MB per process, bare / full (target < "
        f"{TARGET_RSS_MB:.0f}) | full: messages made, queue drained after the load | server CPU "
        f"ms per request, bare / full | load average (1 min) at the end, bare / full |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    spreads: list[str] = []
    for database in dict.fromkeys(r.database for r in results):
        for level in levels:
            ratios: list[float] = []
            p99s: list[float] = []
            fulls: list[float] = []
            bares: list[float] = []
            cpus: list[float] = []
            runs = sorted({r.repeat for r in results if r.database == database})
            for repeat in runs:
                pick = {
                    r.app: r
                    for r in results
                    if r.database == database and r.concurrency == level and r.repeat == repeat
                }
                if not {"bare", "full"} <= set(pick):
                    continue
                bare, full = pick["bare"], pick["full"]
                ratio = full.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
                ratios.append(ratio)
                p99s.append(full.p99_ms)
                fulls.append(full.requests_per_s)
                bares.append(bare.requests_per_s)
                cpus.append(
                    full.cpu_ms_per_request / bare.cpu_ms_per_request
                    if bare.cpu_ms_per_request
                    else 0.0
                )
                lines.append(
                    f"| {database} | {full.processes} | {level} | {repeat + 1} | "
                    f"{bare.requests_per_s:.0f} | {full.requests_per_s:.0f} | **{ratio:.2f}** | "
                    f"{bare.p50_ms:.1f} / {bare.p99_ms:.1f} | {full.p50_ms:.1f} / "
                    f"{full.p99_ms:.1f} | {bare.answered} / {bare.rows_stored} | "
                    f"{full.answered} / {full.rows_stored} | {bare.non_2xx} / {full.non_2xx} | "
                    f"{bare.peak_rss_mb:.0f} / {full.peak_rss_mb:.0f} | {full.processed} in "
                    f"{full.drain_s:.1f} s | {bare.cpu_ms_per_request:.2f} / "
                    f"{full.cpu_ms_per_request:.2f} | {bare.load_average:.1f} / "
                    f"{full.load_average:.1f} |"
                )
            if ratios:
                spreads.append(
                    f"- {database}, c={level}, {len(ratios)} run(s): ratio {_spread(ratios, 2)}; "
                    f"full req/s {_spread(fulls, 0)}; bare req/s {_spread(bares, 0)}; "
                    f"full p99 ms {_spread(p99s, 1)}; CPU per request full / bare "
                    f"{_spread(cpus, 2)}"
                )
    tail = ["", "Spread (min / median / max):", *spreads, *_accepts(results)]
    return "\n".join([*lines, *tail]) + "\n"


def _accepts(results: list[RunResult]) -> list[str]:
    """The accept-only runs, each beside the ceiling run of its own repeat."""
    bares = {(r.database, r.concurrency, r.repeat): r for r in results if r.app == "bare"}
    lines = []
    for r in results:
        bare = bares.get((r.database, r.concurrency, r.repeat))
        if r.app != "accept" or bare is None or not bare.requests_per_s:
            continue
        lines.append(
            f"- {r.database}, c={r.concurrency}, run {r.repeat + 1}: {r.requests_per_s:.0f} "
            f"req/s against the ceiling's {bare.requests_per_s:.0f}, ratio "
            f"{r.requests_per_s / bare.requests_per_s:.2f}; p50 / p99 {r.p50_ms:.1f} / "
            f"{r.p99_ms:.1f} ms; {r.answered} answered, {r.rows_stored} queued; CPU "
            f"{r.cpu_ms_per_request:.2f} ms per request"
        )
    if not lines:
        return []
    heading = (
        "Webhook alone (`serve --no-worker`: form, signature, the text queued durably in a "
        "group commit; nothing recorded during the load, so not the target's figure):"
    )
    return ["", heading, *lines]


def _spread(values: list[float], digits: int) -> str:
    return " / ".join(
        f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )


if __name__ == "__main__":
    sys.exit(main())
