"""SMS history (DESIGN.md §1, "Automated notifications, bulk and history"): every message with
its date, client, direction, sender, status, units and body; filters, totals of exactly the
filtered rows, and a CSV export streamed in chunks, oldest first."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import gc
import io
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, literal_column
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import create_api_key
from messagecenter.carriers.base import StatusReport
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import history
from messagecenter.conversations.history import CSV_COLUMNS, HistoryFilter
from messagecenter.conversations.queries import ensure_conversation
from messagecenter.models import Message
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.service import record_rejected, record_status
from messagecenter.staff.service import create_staff_member, list_staff
from tests.factories import make_business, make_client, text_from

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
MARIA = "+12125550142"
JAMES = "+12125550143"
STRANGER = "+12125550199"
PICTURE = ["https://media.example.test/p.jpg"]


@dataclass
class World:
    """One business's history (ids by name), and another business's texts beside it."""

    business_id: int
    other_business_id: int
    owner_id: int
    clerk_id: int
    key_id: int
    maria_id: int
    james_id: int
    ids: dict[str, int]


def _build(session: Session, context: AppContext, clock: FrozenClock) -> World:
    clock.set(T0 - DAY)
    setup = make_business(session, context.carrier, clock.now(), allowance=1000)
    other = make_business(
        session, context.carrier, clock.now(), business_phone="+13125550100", allowance=1000
    )
    business = setup.business
    owner = list_staff(session, business.id)[0]
    clerk = create_staff_member(
        session, business_id=business.id, email="clerk@studio.example", name="Casey Clerk",
        role="staff", can_send_sms=True, password="password-1", at=clock.now(),
    )  # fmt: skip
    key, _ = create_api_key(session, business.id, "Booking system", clock.now())
    maria = make_client(session, business, clock.now(), first_name="Maria", cell_phone=MARIA)
    james = make_client(
        session, business, clock.now(), first_name="James", last_name="Chen", cell_phone=JAMES
    )
    ids: dict[str, int] = {}

    def inbound(name: str, phone: str, body: str, at: datetime, **kw: Any) -> None:
        outcome = text_from(session, setup.number, phone, body, at, **kw)
        assert outcome.message_id is not None
        ids[name] = outcome.message_id
        if outcome.replies:
            ids[name + "_reply"] = outcome.replies[0]

    def outbound(name: str, sender: Sender, at: datetime, **kw: Any) -> Message:
        message = send_message(session, business, sender=sender, at=at, **kw)
        ids[name] = message.id
        return message

    inbound("maria_hi", MARIA, "Hi! Can I move my 3pm?", T0)
    outbound(
        "owner_reply", Sender.staff(owner.id), T0 + timedelta(hours=1),
        body="Yes, 4pm is free.", client=maria,
    )  # fmt: skip
    inbound("james_stop", JAMES, "STOP", T0 + DAY)  # + the carrier's automatic reply
    reminder = outbound(
        "reminder", Sender.automated(), T0 + 2 * DAY,
        body="Reminder: yoga tomorrow at 9.", client=maria, category="reminders",
    )  # fmt: skip
    record_status(
        session,
        StatusReport("SMreminder", "delivered", message_id=reminder.id),
        T0 + 2 * DAY + timedelta(minutes=1),
    )
    outbound(
        "api_mms", Sender.api_key(key.id), T0 + 3 * DAY,
        body="Your voucher", client=maria, media_urls=PICTURE,
    )  # fmt: skip
    inbound("stranger", STRANGER, "Are you open Sunday?", T0 + 4 * DAY)
    failed = outbound(
        "clerk_reply", Sender.staff(clerk.id), T0 + 4 * DAY + timedelta(hours=2),
        body="Yes, 10 to 4.", conversation=ensure_conversation(
            session, business.id, STRANGER, None, T0 + 4 * DAY
        ),
    )  # fmt: skip
    record_rejected(
        session, failed.id, explain(21614), "not a mobile", T0 + 4 * DAY + timedelta(hours=2)
    )
    # The other business: the same client phone, an inbound text and a reply, on the same days.
    make_client(session, other.business, clock.now(), first_name="Maria", cell_phone=MARIA)
    text_from(session, other.number, MARIA, "Hi other studio", T0)
    send_message(
        session, other.business, body="Hello from the other studio",
        sender=Sender.automated(), at=T0 + 2 * DAY, client=None,
        conversation=ensure_conversation(session, other.business.id, MARIA, None, T0),
    )  # fmt: skip
    session.flush()
    return World(
        business.id, other.business.id, owner.id, clerk.id, key.id, maria.id, james.id, ids
    )


@pytest.fixture
def world(session: Session, context: AppContext, clock: FrozenClock) -> World:
    return _build(session, context, clock)


def _page(session: Session, world: World, flt: HistoryFilter) -> list[dict[str, Any]]:
    return history.history_page(session, world.business_id, flt, limit=1000, offset=0)


def _names(world: World, rows: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return [by_id.get(r["id"], f"foreign:{r['id']}") for r in rows]


ALL_NEWEST_FIRST = [
    "clerk_reply", "stranger", "api_mms", "reminder", "james_stop_reply", "james_stop",
    "owner_reply", "maria_hi",
]  # fmt: skip


def test_every_message_of_the_business_newest_first_with_its_columns(
    session: Session, world: World
) -> None:
    rows = _page(session, world, HistoryFilter())
    assert _names(world, rows) == ALL_NEWEST_FIRST
    by = {name: row for name, row in zip(_names(world, rows), rows, strict=True)}

    # (The hour depends on the time zone shown; the day is 10 November in UTC and New York.)
    assert by["maria_hi"]["date"].startswith("2026-11-10 ")
    # The instant itself too, for the page to write the business's way.
    assert by["maria_hi"]["at"].astimezone(UTC).date() == date(2026, 11, 10)
    assert by["maria_hi"] | {"id": 0, "conversation_id": 0, "date": "", "at": None} == {
        "id": 0, "conversation_id": 0, "date": "", "at": None, "client": "Maria Lopez",
        "phone": MARIA, "direction": "inbound", "sender": "Client", "status": "received",
        "reason": "", "units": 1, "segments": 1, "body": "Hi! Can I move my 3pm?",
    }  # fmt: skip
    assert by["owner_reply"]["direction"] == "outbound"
    assert by["owner_reply"]["phone"] == MARIA  # the client's phone, whichever the direction
    assert by["james_stop_reply"]["sender"] == "Carrier (automatic reply)"
    assert by["james_stop_reply"]["units"] == 0
    assert by["james_stop"]["client"] == "James Chen"
    assert by["reminder"]["sender"] == "Automated"
    assert by["reminder"]["status"] == "delivered"
    assert by["api_mms"]["sender"] == "API key: Booking system"
    assert by["api_mms"]["units"] == 3
    assert by["stranger"]["client"] == "(unidentified)"
    assert by["clerk_reply"]["sender"] == "Casey Clerk"
    assert by["clerk_reply"]["status"] == "failed"
    assert "not a mobile number" in by["clerk_reply"]["reason"]


def test_the_staff_sender_shows_the_staff_members_name(session: Session, world: World) -> None:
    names = {m.id: m.name for m in list_staff(session, world.business_id)}
    rows = _page(session, world, HistoryFilter(sender=f"staff:{world.owner_id}"))
    assert [r["sender"] for r in rows] == [names[world.owner_id]]


FILTERS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("since", {"since": T0 + 2 * DAY}, ["clerk_reply", "stranger", "api_mms", "reminder"]),
    ("until (exclusive)", {"until": T0 + 2 * DAY},
     ["james_stop_reply", "james_stop", "owner_reply", "maria_hi"]),
    ("range", {"since": T0 + DAY, "until": T0 + 3 * DAY},
     ["reminder", "james_stop_reply", "james_stop"]),
    ("inbound", {"direction": "inbound"}, ["stranger", "james_stop", "maria_hi"]),
    ("outbound", {"direction": "outbound"},
     ["clerk_reply", "api_mms", "reminder", "james_stop_reply", "owner_reply"]),
    ("status delivered", {"status": "delivered"}, ["reminder"]),
    ("status failed", {"status": "failed"}, ["clerk_reply"]),
    ("status queued", {"status": "queued"}, ["api_mms", "owner_reply"]),
    ("status received", {"status": "received"}, ["stranger", "james_stop", "maria_hi"]),
    ("automated", {"sender": "automated"}, ["reminder"]),
    ("client", {"sender": "client"}, ["stranger", "james_stop", "maria_hi"]),
    ("carrier", {"sender": "carrier"}, ["james_stop_reply"]),
    ("any staff", {"sender": "staff"}, ["clerk_reply", "owner_reply"]),
    ("nobody", {"sender": "nobody"}, []),
    ("client James", {"client_id": "james"}, ["james_stop_reply", "james_stop"]),
    ("client Maria", {"client_id": "maria"}, ["api_mms", "reminder", "owner_reply", "maria_hi"]),
    ("combined", {"client_id": "maria", "direction": "outbound", "since": T0 + DAY},
     ["api_mms", "reminder"]),
    ("combined, nothing", {"client_id": "james", "status": "delivered"}, []),
]  # fmt: skip


def _filter(world: World, spec: dict[str, Any]) -> HistoryFilter:
    spec = dict(spec)
    if "client_id" in spec:
        spec["client_id"] = {"maria": world.maria_id, "james": world.james_id}[spec["client_id"]]
    return HistoryFilter(**spec)


@pytest.mark.parametrize(("label", "spec", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_each_filter_and_their_combination(
    session: Session, world: World, label: str, spec: dict[str, Any], expected: list[str]
) -> None:
    flt = _filter(world, spec)
    rows = _page(session, world, flt)
    assert _names(world, rows) == expected
    totals = history.history_totals(session, world.business_id, flt)
    assert totals.messages == len(rows)
    assert totals.units == sum(r["units"] for r in rows)
    assert totals.inbound == sum(r["direction"] == "inbound" for r in rows)
    assert totals.outbound == sum(r["direction"] == "outbound" for r in rows)


def test_sender_filters_by_staff_member_and_api_key_id(session: Session, world: World) -> None:
    def names(sender: str) -> list[str]:
        return _names(world, _page(session, world, HistoryFilter(sender=sender)))

    assert names(f"staff:{world.owner_id}") == ["owner_reply"]
    assert names(f"staff:{world.clerk_id}") == ["clerk_reply"]
    assert names(f"api_key:{world.key_id}") == ["api_mms"]
    assert names(f"api_key:{world.key_id + 1000}") == []
    assert names(f"staff:{world.clerk_id + 1000}") == []


def test_totals_of_everything(session: Session, world: World) -> None:
    totals = history.history_totals(session, world.business_id, HistoryFilter())
    # 8 messages: 3 in (1 unit each), 5 out (1 + 0 carrier + 1 + 3 MMS + 1 failed).
    assert (totals.messages, totals.inbound, totals.outbound) == (8, 3, 5)
    assert totals.units == 3 + 1 + 0 + 1 + 3 + 1


def test_paging_walks_the_rows_without_gaps(session: Session, world: World) -> None:
    pages = [
        history.history_page(session, world.business_id, HistoryFilter(), limit=3, offset=o)
        for o in (0, 3, 6)
    ]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert _names(world, [r for p in pages for r in p]) == ALL_NEWEST_FIRST


def test_another_business_never_sees_these_messages(session: Session, world: World) -> None:
    theirs = history.history_page(
        session, world.other_business_id, HistoryFilter(), limit=100, offset=0
    )
    assert len(theirs) == 2
    assert not {r["id"] for r in theirs} & set(world.ids.values())
    assert {r["body"] for r in theirs} == {"Hi other studio", "Hello from the other studio"}
    # Our client id used as a filter by the other business finds nothing of ours.
    crossed = HistoryFilter(client_id=world.maria_id)
    assert (
        history.history_page(session, world.other_business_id, crossed, limit=100, offset=0) == []
    )
    assert history.history_totals(session, world.other_business_id, crossed).messages == 0
    text = "".join(history.history_csv(session, world.other_business_id, HistoryFilter()))
    assert "Hi other studio" in text and "3pm" not in text


def _csv_rows(chunks: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks))))


@pytest.mark.parametrize(("label", "spec", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_the_csv_is_a_header_and_exactly_the_filtered_rows_oldest_first(
    session: Session, world: World, label: str, spec: dict[str, Any], expected: list[str]
) -> None:
    flt = _filter(world, spec)
    rows = _page(session, world, flt)
    parsed = _csv_rows(list(history.history_csv(session, world.business_id, flt)))
    assert parsed[0] == CSV_COLUMNS
    assert parsed[1:] == [[str(r[c]) for c in CSV_COLUMNS] for r in reversed(rows)]


def test_the_csv_keeps_commas_quotes_and_newlines_in_bodies(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    body = 'Line one, with "quotes"\nline two'
    text_from(session, setup.number, MARIA, body, clock.now())
    parsed = _csv_rows(list(history.history_csv(session, setup.business.id, HistoryFilter())))
    assert len(parsed) == 2
    assert parsed[1][CSV_COLUMNS.index("body")] == body


# ---------------------------------------------------------------------------- large exports


def bulk_insert_messages(
    session: Session,
    *,
    business_id: int,
    conversation_id: int,
    client_phone: str,
    sms_number: str,
    count: int,
    start: datetime,
    body_size: int = 40,
    chunk: int = 10_000,
) -> None:
    """`count` inbound messages, one a second from `start`, by Core bulk inserts. What every
    row shares is written into the statement, so each row binds only its body and time."""
    same = {
        "business_id": business_id, "conversation_id": conversation_id,
        "direction": "'inbound'", "sender_type": "'client'", "from_phone": f"'{client_phone}'",
        "to_phone": f"'{sms_number}'", "media_urls": "'[]'", "encoding": "'GSM-7'",
        "segments": 1, "units": 1, "status": "'received'", "dispatch_state": "'none'",
        "attempts": 0, "updated_at": "CURRENT_TIMESTAMP",
    }  # fmt: skip
    columns = {k: literal_column(str(v)) for k, v in same.items()}
    # RETURNING lets SQLAlchemy batch the rows into multi-row INSERTs ("insertmanyvalues").
    stmt = insert(Message.__table__).values(columns).returning(Message.__table__.c.id)
    filler = "x" * max(0, body_size - 15)
    for first in range(0, count, chunk):
        rows = [
            {"body": f"Message {i:06d} {filler}", "created_at": start + timedelta(seconds=i)}
            for i in range(first, min(count, first + chunk))
        ]
        session.execute(stmt, rows)


def _one_conversation(session: Session, context: AppContext, clock: FrozenClock) -> Any:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    conversation = ensure_conversation(session, setup.business.id, MARIA, client.id, clock.now())
    session.flush()
    return setup, conversation


def test_a_large_export_comes_in_several_chunks_with_every_row(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup, conversation = _one_conversation(session, context, clock)
    bulk_insert_messages(
        session, business_id=setup.business.id, conversation_id=conversation.id,
        client_phone=MARIA, sms_number=setup.number.phone_number, count=3000, start=T0,
    )  # fmt: skip
    chunks = list(history.history_csv(session, setup.business.id, HistoryFilter()))
    assert len(chunks) > 1
    assert all(len(c) < 70_000 for c in chunks)
    parsed = _csv_rows(chunks)
    assert parsed[0] == CSV_COLUMNS
    assert len(parsed) == 3001
    bodies = [row[CSV_COLUMNS.index("body")][:14] for row in parsed[1:]]
    assert bodies == [f"Message {i:06d}" for i in range(3000)]  # oldest first, none twice
    # A filter applies to the stream too: the last hour of the 3,000 seconds.
    flt = HistoryFilter(since=T0 + timedelta(seconds=2400))
    assert len(_csv_rows(list(history.history_csv(session, setup.business.id, flt)))) == 601
    assert history.history_totals(session, setup.business.id, flt).messages == 600


def _rss_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Linux: hand freed memory back, then make VmHWM (the peak resident memory) start again
    from the current size."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return _rss_kb("VmHWM") is not None


@pytest.mark.timeout(120)
def test_100000_rows_stream_out_without_holding_them_in_memory(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The export's promise: 100,000 rows never sit in memory at once.

    tracemalloc watches the query and the first 3,000 rows (it slows every allocation
    five-fold, so not all 100,000): an export that loads its result before writing would
    allocate all of it there. The process's peak resident memory watches the whole stream,
    so memory that grows row by row is caught too.
    """
    count, traced_rows = 100_000, 3_000
    setup, conversation = _one_conversation(session, context, clock)
    business_id = setup.business.id
    inserting = time.monotonic()
    bulk_insert_messages(
        session, business_id=business_id, conversation_id=conversation.id,
        client_phone=MARIA, sms_number=setup.number.phone_number, count=count, start=T0,
        body_size=300,
    )  # fmt: skip
    session.expunge_all()
    inserted = time.monotonic() - inserting

    measure_rss = _reset_peak_rss()
    started, cpu_started = time.monotonic(), time.process_time()
    rss_before = _rss_kb("VmRSS") or 0
    lines = chunks = size = 0
    first = last = ""
    traced_peak = None
    tracemalloc.start()
    try:
        for chunk in history.history_csv(session, business_id, HistoryFilter()):
            chunks += 1
            size += len(chunk)
            lines += chunk.count("\r\n")
            first = first or chunk[:200]
            last = chunk or last
            if traced_peak is None and lines > traced_rows:
                traced_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    finally:
        tracemalloc.stop()
    peak_rss_growth = ((_rss_kb("VmHWM") or 0) - rss_before) * 1024 if measure_rss else None
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started

    assert first.startswith(",".join(CSV_COLUMNS) + "\r\n")
    assert lines == count + 1  # the header and every row (bodies have no line breaks)
    assert f"Message {count - 1:06d}" in last  # the newest comes last
    assert chunks > 100
    # Holding the rows would take at least the CSV's own size (~38 MB of text), several times
    # that as loaded rows; streaming keeps one chunk and one batch of rows.
    assert size > 35_000_000
    assert traced_peak is not None
    assert traced_peak < 15_000_000, f"tracemalloc peak {traced_peak / 1e6:.1f} MB"
    if peak_rss_growth is not None:
        assert peak_rss_growth < 30_000_000, f"peak memory grew {peak_rss_growth / 1e6:.1f} MB"
    print(
        f"\n100,000 rows inserted in {inserted:.1f} s and exported in {elapsed:.1f} s "
        f"({cpu:.1f} s of CPU): "
        f"{size / 1e6:.1f} MB of CSV in {chunks} chunks; "
        f"tracemalloc peak {traced_peak / 1e6:.1f} MB over the first {traced_rows:,} rows; "
        f"peak resident memory grew {(peak_rss_growth or 0) / 1e6:.1f} MB"
    )
