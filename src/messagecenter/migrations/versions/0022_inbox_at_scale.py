"""the inbox at a million messages: trigram indexes over clients' full names and
conversations' phones (search), a thread's messages by id, conversations by blocked state

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.search_index import (
    CLIENT_NAME_SQL,
    NAME_FTS_TABLE,
    NAME_TRIGRAM_INDEX,
    PHONE_FTS_TABLE,
    PHONE_TRIGRAM_INDEX,
    SQLITE_NAME_TRIGGERS,
    SQLITE_PHONE_TRIGGERS,
)

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_INBOX_INDEXES = {
    "ix_conversations_inbox": ["business_id", "folder", "pinned", "last_message_at", "id"],
    "ix_conversations_all": ["business_id", "pinned", "last_message_at", "id"],
}


def upgrade() -> None:
    # A thread's newest page: without it, "the conversation's newest 200" walked the whole
    # messages table backwards by id on SQLite (the created_at index does not order by id).
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id", "id"])
    # A folder's count and the inbox's total leave blocked numbers out: with blocked_at in
    # the inbox's indexes they read the index alone, not 100,000 rows of the table.
    for name, columns in _INBOX_INDEXES.items():
        op.drop_index(name, table_name="conversations")
        op.create_index(name, "conversations", [*columns, "blocked_at"])
    op.create_index(
        "ix_conversations_blocked",
        "conversations",
        ["business_id", "blocked_at"],
        sqlite_where=sa.text("blocked_at IS NOT NULL"),
        postgresql_where=sa.text("blocked_at IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":  # pg_trgm is there since 0016
        op.execute(
            f"CREATE INDEX {NAME_TRIGRAM_INDEX} ON clients "
            f"USING gin (({CLIENT_NAME_SQL}) gin_trgm_ops)"
        )
        op.execute(
            f"CREATE INDEX {PHONE_TRIGRAM_INDEX} ON conversations USING gin (phone gin_trgm_ops)"
        )
        return
    # A name is two columns: the index keeps its own copy of the joined name (small).
    op.execute(f"CREATE VIRTUAL TABLE {NAME_FTS_TABLE} USING fts5(name, tokenize='trigram')")
    op.execute(
        f"INSERT INTO {NAME_FTS_TABLE}(rowid, name) SELECT id, {CLIENT_NAME_SQL} FROM clients"
    )
    # A phone is one column: external content, the index holds only the trigrams.
    op.execute(
        f"CREATE VIRTUAL TABLE {PHONE_FTS_TABLE} USING fts5("
        "phone, content='conversations', content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"INSERT INTO {PHONE_FTS_TABLE}({PHONE_FTS_TABLE}) VALUES ('rebuild')")
    for trigger in (*SQLITE_NAME_TRIGGERS, *SQLITE_PHONE_TRIGGERS):
        op.execute(trigger)


def downgrade() -> None:
    op.drop_index("ix_conversations_blocked", table_name="conversations")
    for name, columns in _INBOX_INDEXES.items():
        op.drop_index(name, table_name="conversations")
        op.create_index(name, "conversations", columns)
    op.drop_index("ix_messages_conversation_id", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {NAME_TRIGRAM_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {PHONE_TRIGRAM_INDEX}")
        return
    for table in (NAME_FTS_TABLE, PHONE_FTS_TABLE):
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {table}")
