"""Status-callback benchmark: signed Twilio status callbacks ("sent", then "delivered", for
distinct messages the carrier accepted) against `messagecenter serve`, compared in the same run
and on the same server with signed inbound texts (/webhooks/twilio/sms), the ceiling: status
callbacks are group-committed like texts (sending/reports.py), so they should go at least as
fast (target status / inbound >= 1.0).

    python -m bench.status_callbacks                       # SQLite, concurrency 16 and 64
    python -m bench.status_callbacks --db postgresql       # serve --workers 2 by default
    python -m bench.status_callbacks --db sqlite,postgresql --duration 10 --repeat 3

Needs wrk (Debian: apt-get install wrk) and, for PostgreSQL, a server at --pg-url (a database
of its own is created and dropped). Prints each point's req/s and p50 / p99 latency, the ratio
status / inbound, the server's peak memory per process and its CPU time per answered request
(steadier than req/s on a shared machine), the machine's speed on a fixed CPU loop before and
after (bench/machine.py), and checks afterwards that every answered callback was
recorded: one status event per 2xx answer, and each message in the status its events say
(delivered once "delivered" is stored). Writes bench/results/<stamp>-status-callbacks.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Engine, Exists, case, create_engine, func, insert, select, update
from twilio.request_validator import RequestValidator

from bench.harness import PeakRss, free_port, fresh_database, wait_until_up, write_results
from bench.intake import ACCOUNT_SID, AUTH_TOKEN, _parse, _requests_file, _rows, _seed
from bench.machine import cpu_seconds, cpu_speed, describe
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.clock import SystemClock
from messagecenter.config import Settings
from messagecenter.context import build_context
from messagecenter.db import session_scope
from messagecenter.models import Business, Message, MessageStatusEvent
from messagecenter.models.message import DISPATCH_ACCEPTED
from messagecenter.sending.compose import Sender, send_message

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.0
TARGET_RSS_MB = 200.0  # per server process
CLIENT_PHONE = "+12125550142"
WRK_THREADS = 2
# A wrk thread's callbacks go in blocks: this many messages' "sent", then their "delivered",
# so a message's two callbacks are never in flight together (Twilio sends them apart).
BLOCK = 200


@dataclass
class Point:
    database: str
    processes: int
    kind: str  # "status" (the callbacks measured) or "inbound" (the ceiling)
    concurrency: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    answered: int  # responses wrk received
    non_2xx: int
    socket_errors: int
    stored: int  # status events, or inbound texts (queued or processed), added by the run
    peak_rss_mb: float
    wrong_status: int = 0  # status: messages whose status is not what their events say
    # CPU (user + system) of the server's process tree through the load, per answered
    # request: steadier than req/s when other work shares the machine (PostgreSQL's own is
    # not counted, nor, for inbound texts, a worker's recording after the load).
    cpu_ms_per_request: float = 0.0
    repeat: int = 0

    @property
    def lost(self) -> int:
        """2xx answers with nothing stored for them (wrk may also stop with some requests
        stored but unanswered: those are not lost)."""
        return max(0, self.answered - self.non_2xx - self.stored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql, or both: a,b")
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--duration", type=int, default=5, help="seconds per point")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each pair (spread)")
    parser.add_argument(
        "--requests",
        type=int,
        default=60_000,
        help="pre-signed per point (half as many messages); a point that needs more fails "
        "rather than send one twice",
    )
    parser.add_argument("--workers", type=int, default=0, help="default: 1 SQLite, 2 PostgreSQL")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.concurrency.split(",")]
    speed_before = cpu_speed()
    print(f"machine speed before: {speed_before}")
    workdir = Path(tempfile.mkdtemp(prefix="mc-bench-status-"))
    points: list[Point] = []
    for database in args.db.split(","):
        url, drop = fresh_database(database, args.pg_url)
        try:
            processes = args.workers or (1 if database == "sqlite" else 2)
            points += _bench_database(database, url, processes, levels, args, workdir)
        finally:
            drop()
    speed_after = cpu_speed()
    print(f"machine speed after: {speed_after}")
    machine = describe(speed_before) | {"cpu_speed_after": speed_after}
    report = _report(points, machine)
    print(report)
    write_results(
        Path(args.out),
        "status-callbacks",
        report,
        {"machine": machine, "points": [asdict(p) for p in points]},
    )
    failed = [p for p in points if p.lost or p.wrong_status]
    return 1 if failed else 0


def _bench_database(
    database: str,
    url: str,
    processes: int,
    levels: list[int],
    args: argparse.Namespace,
    workdir: Path,
) -> list[Point]:
    numbers = _seed(url)
    runs = [(level, repeat) for repeat in range(args.repeat) for level in levels]
    per_point = args.requests // 2
    print(f"{database}: creating {per_point * len(runs)} accepted outbound messages")
    batches = _accepted_messages(url, per_point * len(runs))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "messagecenter.cli", "serve", "--port", str(port)]
    if processes > 1:
        command += ["--workers", str(processes)]
    env = {
        **os.environ,
        "MESSAGECENTER_DATABASE_URL": url,
        "MESSAGECENTER_PUBLIC_URL": base_url,
        "MESSAGECENTER_SECRET_KEY": "bench",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    }
    points: list[Point] = []
    log_path = workdir / f"server-{database}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        wait_until_up(base_url)
        for (level, repeat), ids in zip(runs, _chunks(batches, per_point), strict=True):
            status_file = workdir / f"status-{database}-{level}-{repeat}.tsv"
            _status_requests_file(status_file, base_url, url, ids)
            inbound_file = workdir / f"inbound-{database}-{level}-{repeat}.tsv"
            _requests_file(inbound_file, base_url, numbers, args.requests)

            before = _events(engine, ids)
            point = _wrk("status", status_file, "wrk_status.lua", base_url, server.pid, level, args)
            point.stored = _events(engine, ids) - before
            point.wrong_status = _wrong_status(engine, ids)
            points.append(_label(point, database, processes, repeat))

            before = _rows(url, "full")
            point = _wrk(
                "inbound", inbound_file, "wrk_intake.lua", base_url, server.pid, level, args
            )
            point.stored = _rows(url, "full") - before
            points.append(_label(point, database, processes, repeat))
            _print(points[-2])
            _print(points[-1])
            _print_ratio(points[-2], points[-1])
    finally:
        engine.dispose()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    errors = [line for line in log_path.read_text().splitlines() if "ERROR" in line]
    if errors:
        print(f"  the server logged {len(errors)} error line(s), the first: {errors[0][:300]}")
    return points


def _accepted_messages(url: str, count: int) -> list[int]:
    """`count` outbound messages the carrier accepted (sid set), spread over the seeded
    businesses: one real send each (a client, a conversation), then copies of it in bulk.
    Returns their ids."""
    context = build_context(Settings(database_url=url))
    at = SystemClock().now()
    ids: list[int] = []
    try:
        with session_scope(context.sessions) as session:
            businesses = list(session.scalars(select(Business).order_by(Business.id)))
            templates = []
            for business in businesses:
                client = create_client(
                    session,
                    business,
                    ClientChanges(first_name="Bench", last_name="Client", cell_phone=CLIENT_PHONE),
                    at,
                )
                message = send_message(
                    session,
                    business,
                    body="Your class starts at 6.",
                    sender=Sender.automated(),
                    at=at,
                    client=client,
                )
                templates.append(message)
            session.flush()
            rows = []
            columns = [c.key for c in Message.__table__.columns if c.key != "id"]
            for n in range(count - len(templates)):
                template = templates[n % len(templates)]
                row = {key: getattr(template, key) for key in columns}
                rows.append(row | {"carrier_sid": f"SM{n + 1:032x}"})
            for start in range(0, len(rows), 5000):
                session.execute(insert(Message), rows[start : start + 5000])
            for n, template in enumerate(templates):
                template.carrier_sid = f"SM{count + n + 1:032x}"
            session.execute(
                update(Message)
                .where(Message.direction == "outbound")
                .values(dispatch_state=DISPATCH_ACCEPTED, claimed_at=at, next_attempt_at=None)
            )
            ids = list(
                session.scalars(
                    select(Message.id).where(Message.direction == "outbound").order_by(Message.id)
                )
            )
    finally:
        context.engine.dispose()
    assert len(ids) == count, (len(ids), count)
    return ids


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _status_requests_file(path: Path, base_url: str, url: str, ids: list[int]) -> None:
    """Pre-sign "sent" and "delivered" for each message: per wrk thread, a block of messages'
    "sent", then the same block's "delivered"; the threads' lines interleaved (wrk_status.lua
    gives each thread every WRK_THREADS-th line)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        found = connection.execute(
            select(Message.id, Message.carrier_sid, Message.from_phone, Message.to_phone).where(
                Message.id.in_(ids)
            )
        ).all()
    engine.dispose()
    messages = {row.id: row for row in found}
    validator = RequestValidator(AUTH_TOKEN)
    per_thread: list[list[str]] = []
    share = len(ids) // WRK_THREADS
    for thread in range(WRK_THREADS):
        mine = ids[thread::WRK_THREADS][:share]
        lines: list[str] = []
        for start in range(0, len(mine), BLOCK):
            block = mine[start : start + BLOCK]
            for word in ("sent", "delivered"):
                for message_id in block:
                    m = messages[message_id]
                    path_q = f"/webhooks/twilio/status?message={message_id}"
                    form = {
                        "SmsSid": m.carrier_sid,
                        "SmsStatus": word,
                        "MessageStatus": word,
                        "To": m.to_phone,
                        "MessagingServiceSid": "MG" + "c" * 32,
                        "MessageSid": m.carrier_sid,
                        "AccountSid": ACCOUNT_SID,
                        "From": m.from_phone,
                        "ApiVersion": "2010-04-01",
                    }
                    if word == "delivered":
                        form["RawDlrDoneDate"] = "2611271530"
                    signature = validator.compute_signature(base_url + path_q, form)
                    lines.append(f"{signature}\t{path_q}\t{urlencode(form)}")
        per_thread.append(lines)
    with path.open("w") as out:
        for row in zip(*per_thread, strict=True):
            for line in row:
                out.write(line + "\n")


def _wrk(
    kind: str,
    requests_path: Path,
    script: str,
    base_url: str,
    pid: int,
    concurrency: int,
    args: argparse.Namespace,
) -> Point:
    peak = PeakRss(pid)
    cpu_before = cpu_seconds(pid)
    wrk = subprocess.run(
        [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{concurrency}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / script),
            base_url,
        ],
        env={
            **os.environ,
            "BENCH_REQUESTS": str(requests_path),
            "BENCH_THREADS": str(WRK_THREADS),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_used = cpu_seconds(pid) - cpu_before
    peak_rss = peak.stop()
    signed = sum(1 for _ in requests_path.open())
    sent = re.search(r"(\d+) requests in", wrk.stdout)
    if sent is None or int(sent.group(1)) > signed:
        raise SystemExit(
            f"wrk sent {sent.group(1) if sent else '?'} {kind} requests but only {signed} "
            "were signed, so some were replays: raise --requests"
        )
    parsed = _parse(wrk.stdout, kind, "", 0, concurrency, args.duration, 0)
    return Point(
        database="",
        processes=0,
        kind=kind,
        concurrency=concurrency,
        duration_s=args.duration,
        requests_per_s=parsed.requests_per_s,
        p50_ms=parsed.p50_ms,
        p99_ms=parsed.p99_ms,
        answered=parsed.answered,
        non_2xx=parsed.non_2xx,
        socket_errors=parsed.socket_errors,
        stored=0,
        peak_rss_mb=peak_rss,
        cpu_ms_per_request=1000 * cpu_used / parsed.answered if parsed.answered else 0.0,
    )


def _label(point: Point, database: str, processes: int, repeat: int) -> Point:
    point.database, point.processes, point.repeat = database, processes, repeat
    return point


def _events(engine: Engine, ids: list[int]) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(MessageStatusEvent)
                .where(MessageStatusEvent.message_id.in_(ids))
            )
            or 0
        )


def _wrong_status(engine: Engine, ids: list[int]) -> int:
    """Messages whose status is not what their stored events say: "delivered" once a
    delivered event is stored, else "sent" once a sent one is, else still "queued". One
    statement, so one snapshot: a callback committing meanwhile is seen whole or not at all."""

    def has(word: str) -> Exists:
        return (
            select(MessageStatusEvent.id)
            .where(MessageStatusEvent.message_id == Message.id, MessageStatusEvent.status == word)
            .exists()
        )

    expected = case((has("delivered"), "delivered"), (has("sent"), "sent"), else_="queued")
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.id.in_(ids), Message.status != expected)
            )
            or 0
        )


def _print(p: Point) -> None:
    check = f"stored {p.stored}"
    if p.kind == "status":
        check += f", lost {p.lost}, wrong status {p.wrong_status}"
    print(
        f"{p.database:10} {p.kind:7} c={p.concurrency:<3} {p.requests_per_s:8.0f} req/s  "
        f"p50 {p.p50_ms:6.1f} ms  p99 {p.p99_ms:6.1f} ms  answered {p.answered}  {check}  "
        f"non-2xx {p.non_2xx}  socket errors {p.socket_errors}  "
        f"peak RSS {p.peak_rss_mb:.0f} MB/process  CPU {p.cpu_ms_per_request:.2f} ms/request"
    )


def _print_ratio(status: Point, inbound: Point) -> None:
    print(f"  ratio status / inbound: {_ratio(status, inbound):.2f} (target >= {TARGET_RATIO})")


def _ratio(status: Point, inbound: Point) -> float:
    return status.requests_per_s / inbound.requests_per_s if inbound.requests_per_s else 0.0


def _report(points: list[Point], machine: dict[str, object]) -> str:
    lines = [
        "# Status-callback benchmark",
        "",
        "Machine: " + json.dumps(machine),
        "",
        "`messagecenter serve` (simulator carrier). Status: signed Twilio status callbacks, "
        "sent then delivered for distinct accepted messages. Ceiling: signed inbound texts on "
        "the same server, right after. Figures are provisional: the machine is shared.",
        "",
        f"| database | processes | concurrency | run | status req/s | inbound req/s | ratio "
        f"status/inbound (target ≥ {TARGET_RATIO}) | status p50 / p99 ms | inbound p50 / p99 "
        f"ms | status answered / events stored / lost / wrong status | non-2xx status / "
        f"inbound | peak RSS MB per process (target < {TARGET_RSS_MB:.0f}) | server CPU ms "
        f"per request, status / inbound |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for status, inbound in zip(points[::2], points[1::2], strict=True):
        lines.append(
            f"| {status.database} | {status.processes} | {status.concurrency} | "
            f"{status.repeat + 1} | {status.requests_per_s:.0f} | {inbound.requests_per_s:.0f} "
            f"| **{_ratio(status, inbound):.2f}** | {status.p50_ms:.1f} / {status.p99_ms:.1f} | "
            f"{inbound.p50_ms:.1f} / {inbound.p99_ms:.1f} | {status.answered} / "
            f"{status.stored} / {status.lost} / {status.wrong_status} | {status.non_2xx} / "
            f"{inbound.non_2xx} | {max(status.peak_rss_mb, inbound.peak_rss_mb):.0f} | "
            f"{status.cpu_ms_per_request:.2f} / {inbound.cpu_ms_per_request:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
