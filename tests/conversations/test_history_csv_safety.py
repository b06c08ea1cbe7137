"""A client's text in the CSV export never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations.history import HistoryFilter, history_csv
from tests.factories import make_business, make_client, text_from


def test_formula_like_bodies_are_quoted_and_phones_are_not(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now(), first_name="=HYPERLINK(1)")
    text_from(session, setup.number, client.cell_phone or "", "=SUM(A1:A9)", clock.now())
    text_from(session, setup.number, client.cell_phone or "", "see you at 4", clock.now())
    rows = list(
        csv.DictReader(
            io.StringIO("".join(history_csv(session, setup.business.id, HistoryFilter())))
        )
    )
    assert [r["body"] for r in rows] == ["'=SUM(A1:A9)", "see you at 4"]
    assert rows[0]["client"].startswith("'=HYPERLINK")
    assert rows[0]["phone"] == client.cell_phone
