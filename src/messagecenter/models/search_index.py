"""The message search index: dialect-specific objects that the models cannot declare.

SQLite keeps an FTS5 table (trigram tokens) over messages.body, filled by triggers on
messages (migration 0016); PostgreSQL keeps a pg_trgm GIN index on messages.body. Neither is in
the metadata, so autogenerate must be told to leave them alone (`include_object`).

A later SQLite migration that rebuilds `messages` (batch mode copies it into a new table)
drops the triggers with the old table: it must create them again (`SQLITE_TRIGGERS`).
"""

from __future__ import annotations

from typing import Any

FTS_TABLE = "message_search"  # SQLite; its shadow tables are message_search_data, _idx, ...
TRIGRAM_INDEX = "ix_messages_body_trgm"  # PostgreSQL

# Every path that writes messages (Core multi-row INSERTs included) passes these triggers.
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
        INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body);
    END""",
    f"""CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    f"""CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body);
    END""",
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: the search objects are the migrations' own, not the models'."""
    if type_ == "table" and name is not None:
        return name != FTS_TABLE and not name.startswith(FTS_TABLE + "_")
    if type_ == "index":
        return name != TRIGRAM_INDEX
    return True
