"""SMS history: every message with its date, client, direction, sender, status, units and
body; filters, totals for the filtered rows, and a streamed CSV export of exactly those rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, false, func, select
from sqlalchemy.orm import Session

from messagecenter.models import ApiKey, Client, Conversation, Message, StaffMember
from messagecenter.models.ids import MAX_ID

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
class HistoryFilter:
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    direction: str | None = None  # inbound / outbound
    status: str | None = None
    sender: str | None = None  # "staff:<id>", "api_key:<id>", "automated", "client", "carrier"
    client_id: int | None = None


@dataclass(frozen=True)
class HistoryTotals:
    messages: int
    units: int
    inbound: int
    outbound: int


def _base(business_id: int, flt: HistoryFilter) -> Select[Message, str, str, str, str]:
    stmt = (
        select(
            Message,
            Client.first_name,
            Client.last_name,
            StaffMember.name.label("staff_name"),
            ApiKey.name.label("key_name"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Client, Client.id == Conversation.client_id)
        .outerjoin(StaffMember, StaffMember.id == Message.staff_member_id)
        .outerjoin(ApiKey, ApiKey.id == Message.api_key_id)
        .where(Message.business_id == business_id)
    )
    conditions: list[ColumnElement[bool]] = []
    if flt.since is not None:
        conditions.append(Message.created_at >= flt.since)
    if flt.until is not None:
        conditions.append(Message.created_at < flt.until)
    if flt.direction:
        conditions.append(Message.direction == flt.direction)
    if flt.status:
        conditions.append(Message.status == flt.status)
    if flt.client_id is not None:
        conditions.append(_id_is(Conversation.client_id, flt.client_id))
    if flt.sender:
        kind, _, ident = flt.sender.partition(":")
        conditions.append(Message.sender_type == kind)
        if kind == "staff" and ident.isdigit():
            conditions.append(_id_is(Message.staff_member_id, int(ident)))
        elif kind == "api_key" and ident.isdigit():
            conditions.append(_id_is(Message.api_key_id, int(ident)))
    return stmt.where(*conditions)


def _id_is(column: Any, ident: int) -> ColumnElement[bool]:
    """Ids are 32-bit in the database: a larger one (typed into a filter's URL) would make
    PostgreSQL refuse the query, a 500. No row has it, so it matches nothing."""
    return column == ident if 1 <= ident <= MAX_ID else false()


def history_page(
    session: Session,
    business_id: int,
    flt: HistoryFilter,
    *,
    limit: int,
    offset: int,
    timezone: str = "UTC",
) -> list[dict[str, Any]]:
    stmt = _base(business_id, flt).order_by(Message.created_at.desc(), Message.id.desc())
    zone = ZoneInfo(timezone)
    return [_row(r, zone) for r in session.execute(stmt.limit(limit).offset(offset))]


def history_totals(session: Session, business_id: int, flt: HistoryFilter) -> HistoryTotals:
    inner = _base(business_id, flt).subquery()
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(inner.c.units), 0),
            func.coalesce(func.sum(case((inner.c.direction == "inbound", 1), else_=0)), 0),
        ).select_from(inner)
    ).one()
    count, units, inbound = (int(v or 0) for v in row)
    return HistoryTotals(count, units, inbound, count - inbound)


def history_csv(
    session: Session, business_id: int, flt: HistoryFilter, timezone: str = "UTC"
) -> Iterator[str]:
    """CSV of exactly the filtered rows, oldest first, streamed in chunks from the database
    so 100,000 rows never sit in memory at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    stmt = _base(business_id, flt).order_by(Message.created_at, Message.id)
    result = session.execute(stmt.execution_options(yield_per=1000))
    zone = ZoneInfo(timezone)
    for raw in result:
        row = _row(raw, zone)
        writer.writerow([_cell(row[c]) if c in _FREE_TEXT else row[c] for c in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_FREE_TEXT = ("body", "client")  # what people typed; phones and dates are ours


def _cell(value: Any) -> Any:
    """Text a client wrote must not run as a spreadsheet formula when the CSV is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _row(raw: Any, zone: ZoneInfo) -> dict[str, Any]:
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
        "date": message.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "client": client,
        "phone": phone,
        "direction": message.direction,
        "sender": sender,
        "status": message.status,
        "reason": message.error_message or "",
        "units": message.units,
        "segments": message.segments,
        "body": message.body,
    }
