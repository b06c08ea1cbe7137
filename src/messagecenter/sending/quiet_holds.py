"""Holding texts for quiet hours (DESIGN.md §2): when they are queued, and again when the
dispatcher claims them.

Quiet hours are a property of the message (messages.quiet_hours), set by whoever queues it:
notifications do (compose.Outgoing.quiet_hours), and so will bulk and scheduled sends;
keyword answers and replies never do. The one exception is written here, for every sender:
a text a person writes (staff, or an integration's API key) in a conversation the client
wrote in during the last 24 hours is a reply, and never held.

When queued, a held text's due time (the outbox's next_attempt_at) moves to the opening of
the window, which the thread shows ("waits until 08:00 client time"). A text that may go at
once, or when the window opens, keeps the moment that window closes again
(quiet_open_until): the dispatcher judges again only a message it claims after that moment
(due at 20:59, claimed at 21:03), so the usual batch costs it one comparison per message.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from messagecenter.models import Business
from messagecenter.models.message import SENDER_API_KEY, SENDER_STAFF
from messagecenter.sending import queries
from messagecenter.sending.quiet_hours import verdict

# A person's text after the client wrote within this long is a reply: never held.
REPLY_WINDOW = timedelta(hours=24)
_PERSONS = (SENDER_STAFF, SENDER_API_KEY)


def hold_rows(
    session: Session,
    business: Business,
    rows: Sequence[MutableMapping[str, Any]],
    sender_type: str,
    at: datetime,
) -> None:
    """Judge the quiet hours of outbox rows about to be inserted (compose._queue): each row
    that carries the `quiet_hours` flag goes when the client's window is open (its
    next_attempt_at moved there, and quiet_until and quiet_zone saying so, when that is
    later), and keeps when that window closes. Every row gets the quiet columns (one insert
    needs the same keys in every row)."""
    for row in rows:
        row.update(quiet_until=None, quiet_zone=None, quiet_open_until=None)
    flagged = [row for row in rows if row["quiet_hours"]]
    if not flagged:
        return
    if sender_type in _PERSONS:
        replies = queries.client_wrote_since(
            session, {row["conversation_id"] for row in flagged}, at - REPLY_WINDOW
        )
        for row in flagged:
            # A bulk send of a kind (marketing, account) is never a reply, whoever made it;
            # a personal scheduled text to one client is.
            bulk = row.get("bulk_send_id") is not None and row.get("category") is not None
            if row["conversation_id"] in replies and not bulk:
                row["quiet_hours"] = False
        flagged = [row for row in flagged if row["quiet_hours"]]
    zones = queries.client_zones_of(session, {row["conversation_id"] for row in flagged})
    for row in flagged:
        found = verdict(
            row["to_phone"],
            zones.get(row["conversation_id"]),
            business.timezone,
            business.strict_state_hours,
            row["next_attempt_at"],
        )
        row["next_attempt_at"] = found.goes_at
        row["quiet_open_until"] = found.open_until
        if found.held:
            row["quiet_until"], row["quiet_zone"] = found.goes_at, found.zone


def hold_claimed(session: Session, message_ids: Sequence[int], at: datetime) -> set[int]:
    """Claimed messages whose window had closed by the time they were due (queries.lock_due
    locked them): judged again at `at`; those in quiet hours now wait for the next opening.
    Returns the ones held."""
    held: list[dict[str, Any]] = []
    for row in queries.quiet_rechecks(session, message_ids):
        found = verdict(
            row.to_phone, row.client_zone, row.business_zone, row.strict_state_hours, at
        )
        if found.held:
            held.append(
                {
                    "message_id": row.id,
                    "goes_at": found.goes_at,
                    "zone": found.zone,
                    "open_until": found.open_until,
                    "at": at,
                }
            )
    queries.hold_for_quiet_hours(session, held)
    return {int(hold["message_id"]) for hold in held}
