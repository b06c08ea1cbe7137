"""message search: SQLite FTS5 (trigram) over messages.body, PostgreSQL pg_trgm

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

from messagecenter.models.search_index import FTS_TABLE, SQLITE_TRIGGERS, TRIGRAM_INDEX

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {TRIGRAM_INDEX} ON messages USING gin (body gin_trgm_ops)")
        return
    # External content: the text stays in messages; the index holds only the trigrams.
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
        "body, content='messages', content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
        return  # the extension may serve others; it stays
    for trigger in ("message_search_insert", "message_search_delete", "message_search_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
