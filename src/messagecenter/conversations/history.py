"""SMS history: every message with its date, client, direction, sender, status, units and
body; filters, totals for the filtered rows, and a streamed CSV export of exactly those rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.conversations import queries
from messagecenter.conversations.present import waits_until_note
from messagecenter.conversations.queries import HistoryFilter as HistoryFilter  # re-exported
from messagecenter.models import Message

SENDER_LABELS = {
    "client": "Client",
    "automated": "Automated",
    "carrier": "Carrier (automatic reply)",
}
CSV_COLUMNS = [
    "date", "client", "phone", "direction", "sender", "status", "reason", "units", "segments",
    "body",
]  # fmt: skip


@dataclass(frozen=True)
class HistoryTotals:
    messages: int
    units: int
    inbound: int
    outbound: int


def history_page(
    session: Session,
    business_id: int,
    flt: HistoryFilter,
    *,
    limit: int,
    offset: int,
    timezone: str = "UTC",
) -> list[dict[str, Any]]:
    zone = ZoneInfo(timezone)
    rows = queries.history_rows(session, business_id, flt, limit=limit, offset=offset)
    return [history_row(r, zone) for r in rows]


def history_totals(session: Session, business_id: int, flt: HistoryFilter) -> HistoryTotals:
    count, units, inbound = queries.history_counts(session, business_id, flt)
    return HistoryTotals(count, units, inbound, count - inbound)


def history_csv(
    session: Session, business_id: int, flt: HistoryFilter, timezone: str = "UTC"
) -> Iterator[str]:
    """CSV of exactly the filtered rows, oldest first, streamed in chunks from the database
    so 100,000 rows never sit in memory at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    zone = ZoneInfo(timezone)
    for raw in queries.history_stream(session, business_id, flt):
        row = history_row(raw, zone)
        writer.writerow(
            [spreadsheet_safe(row[c]) if c in _FREE_TEXT else row[c] for c in CSV_COLUMNS]
        )
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_FREE_TEXT = ("body", "client")  # what people typed; phones and dates are ours


def spreadsheet_safe(value: Any) -> Any:
    """Text a client wrote must not run as a spreadsheet formula when the CSV is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def history_row(raw: Any, zone: ZoneInfo) -> dict[str, Any]:
    """One message as the history shows it; times in the business's own time zone."""
    message: Message = raw[0]
    first, last, staff_name, key_name = raw[1], raw[2], raw[3], raw[4]
    client = f"{first or ''} {last or ''}".strip() or "(unidentified)"
    if message.sender_type == "staff":
        sender = staff_name or "Staff"
    elif message.sender_type == "api_key":
        sender = f"API key: {key_name}" if key_name else "API key"
    else:
        sender = SENDER_LABELS.get(message.sender_type, message.sender_type)
    phone = message.from_phone if message.direction == "inbound" else message.to_phone
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "at": message.created_at,  # the page words it the business's way (http/readable.py)
        "date": message.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "client": client,
        "phone": phone,
        "direction": message.direction,
        "sender": sender,
        "status": message.status,
        "reason": message.error_message or waits_until_note(message) or "",
        "units": message.units,
        "segments": message.segments,
        "body": message.body,
    }
