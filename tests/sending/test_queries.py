"""The outbox's SQL (sending/queries.py): what makes a claim cheap whatever the database's
statistics say."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.sending import queries


def _plan(session: Session, priority: int, paced: bool, clock: FrozenClock) -> str:
    """How the database would run one priority's claim now."""
    connection = session.connection()
    compiled = queries._LOCK_DUE[priority, paced].compile(dialect=connection.dialect)
    params = {
        **compiled.params,
        "at": clock.now(),
        "limit": 100,
        "full_until": clock.now() + timedelta(seconds=1),
    }
    if connection.dialect.name == "postgresql":
        # As on a big table: only an index can answer, and only the ordered one needs no
        # sort (the single query ordered by the priority was planned as a bitmap scan of
        # ix_messages_outbox and a sort of every due message).
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params)
        return "\n".join(row[0] for row in rows)
    positional = [params[name] for name in compiled.positiontup or ()]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(positional))
    return "\n".join(str(row[-1]) for row in rows)


def test_each_prioritys_claim_reads_the_outbox_index_in_order_without_a_sort(
    session: Session, clock: FrozenClock
) -> None:
    for priority in (0, 1):
        for paced in (False, True):
            plan = _plan(session, priority, paced, clock)
            assert "ix_messages_outbox_priority" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
