"""Inbox benchmark: the inbox queries with 100,000 conversations in one business.

    python -m bench.inbox [--conversations 100000] [--database-url URL]

Seeds the conversations with a bulk insert (a SQLite file by default), then times the queries
behind /inbox — each folder, a search by name, phone and text, a date filter and a late page —
and prints each median against the ceiling it is held to (a page must feel instant), as a ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.config import Settings
from messagecenter.context import build_context
from messagecenter.conversations.queries import ConversationFilter, list_conversations
from messagecenter.db import session_scope
from messagecenter.migrate import upgrade
from messagecenter.models import Client, Conversation

CEILING_MS = 100.0  # what a staff member waits for an inbox page, at most
FOLDERS = ("unread", "read", "replied", "archived")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'inbox.db'}"
    upgrade(url)
    context = build_context(Settings(database_url=url))
    business_id = _seed(context, args.conversations)
    cases: list[tuple[str, ConversationFilter]] = [
        ("all, first page", ConversationFilter()),
        *[(f"folder {f}", ConversationFilter(folder=f)) for f in FOLDERS],
        ("search by name", ConversationFilter(search="lopez 4242")),
        ("search by phone", ConversationFilter(search="5550424")),
        ("search by text", ConversationFilter(search="parking")),
        ("last week", ConversationFilter(since=datetime(2026, 11, 20, tzinfo=UTC))),
        ("page 1,000", ConversationFilter(offset=49_950)),
    ]
    print(f"{args.conversations:,} conversations, {url.split(':')[0]}; ceiling {CEILING_MS} ms")
    worst = 0.0
    for name, flt in cases:
        timings = []
        for _ in range(5):
            with context.sessions() as session:
                start = time.perf_counter()
                rows, total = list_conversations(session, business_id, flt)
                timings.append((time.perf_counter() - start) * 1000)
        median = statistics.median(timings)
        worst = max(worst, median / CEILING_MS)
        print(
            f"  {name:18} {median:7.1f} ms  ({len(rows)} of {total:,})  "
            f"ratio to ceiling {median / CEILING_MS:.2f}"
        )
    print(f"worst ratio to the {CEILING_MS} ms ceiling: {worst:.2f}")
    return 0


def _seed(context: object, count: int) -> int:
    from argon2 import PasswordHasher

    from messagecenter.staff import service as staff

    staff._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # setup only
    at = datetime(2026, 11, 26, 12, tzinfo=UTC)
    with session_scope(context.sessions) as session:  # type: ignore[attr-defined]
        business = create_business(
            session,
            NewBusiness("Busy Studio", "US", "America/New_York", "+12125550100", 10**9,
                        "hard_stop", Decimal(0), "busy@studio.example"),
            at,
        ).business  # fmt: skip
        business_id = business.id
        clients = [
            {"business_id": business_id, "first_name": f"Client {i}", "last_name": f"Lopez {i}",
             "cell_phone": f"+1212{i:07d}", "sms_reminders": True, "sms_account": True,
             "sms_marketing": False, "created_at": at, "updated_at": at}
            for i in range(count)
        ]  # fmt: skip
        for chunk in range(0, count, 5000):
            session.execute(insert(Client), clients[chunk : chunk + 5000])
        first_client = session.query(Client.id).order_by(Client.id).first()
        assert first_client is not None
        base = first_client[0]
        conversations = [
            {"business_id": business_id, "phone": f"+1212{i:07d}", "client_id": base + i,
             "folder": FOLDERS[i % 4], "unread_count": 1 if i % 4 == 0 else 0,
             "pinned": i % 997 == 0, "muted": False,
             "last_message_at": at - timedelta(minutes=i),
             "last_message_preview": "Is there parking?" if i % 50 == 0 else f"See you at {i % 12}",
             "created_at": at - timedelta(days=30)}
            for i in range(count)
        ]  # fmt: skip
        for chunk in range(0, count, 5000):
            session.execute(insert(Conversation), conversations[chunk : chunk + 5000])
    return business_id


if __name__ == "__main__":
    sys.exit(main())
