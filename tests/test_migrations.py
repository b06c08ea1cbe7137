"""The schema is made only by Alembic, and the models agree with it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from messagecenter.businesses import usage
from messagecenter.db import make_engine
from messagecenter.migrate import alembic_config, upgrade
from messagecenter.models import Base, Business, Plan
from messagecenter.models.search_index import include_object
from tests.conftest import BACKEND


def test_autogenerate_finds_no_difference_after_upgrade_head(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        diffs = compare_metadata(context, Base.metadata)
    # Alembic cannot compare an expression index as PostgreSQL reflects it (it sees the
    # outbox's priority index removed and added again); its migration creates it once.
    assert [d for d in diffs if not _is_expression_index(d)] == []


def _is_expression_index(diff: object) -> bool:
    return (
        isinstance(diff, tuple)
        and diff[0] in ("add_index", "remove_index")
        and diff[1].name == "ix_messages_outbox_priority"
    )


def test_database_is_at_the_single_head(engine: Engine, database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == script.get_current_head()


def test_every_model_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own, with no schema yet, on the backend under test."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    server_url = make_url(os.environ["MESSAGECENTER_TEST_DATABASE_URL"]).set(
        drivername="postgresql+psycopg"
    )
    name = f"mc_migrate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield server_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_0012_prices_existing_plans_in_their_countrys_currency_and_keeps_them_working(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "0011")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            for plan_id, country in ((1, "GB"), (2, "US"), (3, "IE")):
                connection.execute(
                    text(
                        "INSERT INTO plans (id, name, monthly_allowance, overage_policy, "
                        "overage_price_per_unit, created_at) VALUES "
                        "(:id, 'old', 100, 'allow_overage', 0.05, :at)"
                    ),
                    {"id": plan_id, "at": datetime(2026, 11, 1)},
                )
                connection.execute(
                    text(
                        "INSERT INTO businesses (id, name, country, timezone, business_phone, "
                        "plan_id, unread_messages, created_at) VALUES "
                        "(:id, 'Old studio', :country, 'UTC', '+12125550100', :id, 0, :at)"
                    ),
                    {"id": plan_id, "country": country, "at": datetime(2026, 11, 1)},
                )
        upgrade(empty_database_url)
        sessions = sessionmaker(bind=engine)
        with sessions() as session:
            currencies = {
                row.id: row.currency for row in session.execute(select(Plan.id, Plan.currency))
            }
            assert currencies == {1: "GBP", 2: "USD", 3: "EUR"}
            business = session.get(Business, 1)
            assert business is not None
            summary = usage.summarize(session, business, datetime(2026, 11, 16, tzinfo=UTC))
            assert (summary.allowance, summary.spending_cap, summary.send_limit) == (
                100,
                None,
                None,
            )
            assert summary.price_text == "£0.05"
    finally:
        engine.dispose()


def test_0027_folds_the_search_text_on_postgresql_and_goes_back(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    postgresql = engine.dialect.name == "postgresql"
    try:

        def shape() -> tuple[set[str], set[str]]:
            found = inspect(engine)
            columns = {c["name"] for c in found.get_columns("messages")}
            columns |= {c["name"] for c in found.get_columns("clients")}
            indexes = {i["name"] or "" for i in found.get_indexes("messages")}
            indexes |= {i["name"] or "" for i in found.get_indexes("clients")}
            return columns & {"body_folded", "name_folded"}, {i for i in indexes if "trgm" in i}

        folded = {"body_folded", "name_folded"} if postgresql else set()
        new_indexes = {"ix_messages_body_folded_trgm", "ix_clients_name_folded_trgm"}
        old_indexes = {"ix_messages_body_trgm", "ix_clients_name_trgm"}
        assert shape() == (folded, new_indexes if postgresql else set())
        command.downgrade(alembic_config(empty_database_url), "0026")
        assert shape() == (set(), old_indexes if postgresql else set())
        upgrade(empty_database_url)
        assert shape() == (folded, new_indexes if postgresql else set())
    finally:
        engine.dispose()
