"""The inbox search's indexes: dialect-specific objects that the models cannot declare.

Three texts are searched by any part of them (see conversations/queries.search_hits):
messages' bodies (migration 0016), clients' full names and conversations' phones (0022).
SQLite keeps an FTS5 table of trigram tokens for each, filled by triggers; PostgreSQL keeps a
pg_trgm GIN index for each. None is in the metadata, so autogenerate must be told to leave
them alone (`include_object`).

A later SQLite migration that rebuilds `messages`, `clients` or `conversations` (batch mode
copies it into a new table) drops the triggers with the old table: it must create them again
(`SQLITE_TRIGGERS`, `SQLITE_NAME_TRIGGERS`, `SQLITE_PHONE_TRIGGERS`).
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


# A client's full name as both databases index and search it: the expression must read the
# same in the index and the query (a bound ' ' would not match PostgreSQL's index).
CLIENT_NAME_SQL = "first_name || ' ' || last_name"
NAME_FTS_TABLE = "client_name_search"  # SQLite: its own copy of each name, rowid = client id
PHONE_FTS_TABLE = "conversation_phone_search"  # SQLite: external content, conversations.phone
NAME_TRIGRAM_INDEX = "ix_clients_name_trgm"  # PostgreSQL
PHONE_TRIGRAM_INDEX = "ix_conversations_phone_trgm"  # PostgreSQL

SQLITE_NAME_TRIGGERS = (
    f"""CREATE TRIGGER client_name_search_insert AFTER INSERT ON clients BEGIN
        INSERT INTO {NAME_FTS_TABLE}(rowid, name)
        VALUES (new.id, new.first_name || ' ' || new.last_name);
    END""",
    f"""CREATE TRIGGER client_name_search_delete AFTER DELETE ON clients BEGIN
        DELETE FROM {NAME_FTS_TABLE} WHERE rowid = old.id;
    END""",
    f"""CREATE TRIGGER client_name_search_update AFTER UPDATE OF first_name, last_name
        ON clients BEGIN
        UPDATE {NAME_FTS_TABLE} SET name = new.first_name || ' ' || new.last_name
        WHERE rowid = new.id;
    END""",
)
SQLITE_PHONE_TRIGGERS = (
    f"""CREATE TRIGGER conversation_phone_search_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO {PHONE_FTS_TABLE}(rowid, phone) VALUES (new.id, new.phone);
    END""",
    f"""CREATE TRIGGER conversation_phone_search_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO {PHONE_FTS_TABLE}({PHONE_FTS_TABLE}, rowid, phone)
        VALUES ('delete', old.id, old.phone);
    END""",
    f"""CREATE TRIGGER conversation_phone_search_update AFTER UPDATE OF phone
        ON conversations BEGIN
        INSERT INTO {PHONE_FTS_TABLE}({PHONE_FTS_TABLE}, rowid, phone)
        VALUES ('delete', old.id, old.phone);
        INSERT INTO {PHONE_FTS_TABLE}(rowid, phone) VALUES (new.id, new.phone);
    END""",
)
_FTS_TABLES = (FTS_TABLE, NAME_FTS_TABLE, PHONE_FTS_TABLE)
_TRIGRAM_INDEXES = (TRIGRAM_INDEX, NAME_TRIGRAM_INDEX, PHONE_TRIGRAM_INDEX)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: the search objects are the migrations' own, not the models'."""
    if type_ == "table" and name is not None:
        return not any(name == fts or name.startswith(fts + "_") for fts in _FTS_TABLES)
    if type_ == "index":
        return name not in _TRIGRAM_INDEXES
    return True
