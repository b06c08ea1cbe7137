"""One conversation as staff take it away: every message, every consent change (STOP,
START, a carrier's opt-out) and every internal note (kind "note", its author as sender) in
order, in the business's time zone, as CSV or as a printable page. The messages are the
history's rows (history.py), so both say the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.consent import queries as consent_queries
from messagecenter.conversations import history, queries
from messagecenter.conversations.queries import HistoryFilter
from messagecenter.models import Conversation
from messagecenter.models.consent import CONSENT_OPT_OUT, SOURCE_CARRIER_21610
from messagecenter.notes import queries as note_queries

CSV_COLUMNS = ["date", "kind", "direction", "sender", "status", "reason", "units", "body"]


@dataclass(frozen=True)
class Entry:
    """A line of the export: a message, a consent change (kind "consent") or an internal
    note (kind "note")."""

    at: datetime
    kind: str  # message / consent / note
    date: str  # in the business's zone
    direction: str
    sender: str
    status: str
    reason: str
    units: int | str
    body: str


def entries(session: Session, conversation: Conversation, timezone: str) -> list[Entry]:
    """Every message, consent change and note of the conversation, oldest first."""
    zone = ZoneInfo(timezone)
    found: list[Entry] = []
    flt = HistoryFilter(conversation_id=conversation.id)
    for raw in queries.history_stream(session, conversation.business_id, flt):
        row = history.history_row(raw, zone)
        found.append(
            Entry(raw[0].created_at, "message", row["date"], row["direction"], row["sender"],
                  row["status"], row["reason"], row["units"], row["body"])
        )  # fmt: skip
    for record in consent_queries.consent_history(
        session, conversation.business_id, conversation.phone
    ):
        found.append(
            Entry(record.created_at, "consent", _local(record.created_at, zone), "", "", "",
                  "", "", _consent_text(record.action, record.source, record.keyword))
        )  # fmt: skip
    for note in note_queries.notes_between(session, conversation.id):
        found.append(
            Entry(note.created_at, "note", _local(note.created_at, zone), "", note.author_label,
                  "", "", "", note.body)
        )  # fmt: skip
    return sorted(found, key=lambda e: (e.at, e.kind != "message"))  # a STOP, then its effect


def as_csv(found: list[Entry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in found:
        safe = history.spreadsheet_safe
        writer.writerow(
            [entry.date, entry.kind, entry.direction, safe(entry.sender), entry.status,
             entry.reason, entry.units, safe(entry.body)]
        )  # fmt: skip
    yield buffer.getvalue()


def _consent_text(action: str, source: str, keyword: str | None) -> str:
    if source == SOURCE_CARRIER_21610:
        return "Unsubscribed: the carrier refused a text because the client opted out there."
    said = f" (texted {keyword})" if keyword else ""
    if action == CONSENT_OPT_OUT:
        return f"Unsubscribed{said}: no more texts to this number until they text START."
    return f"Subscribed again{said}."


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
