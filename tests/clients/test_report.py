"""The All Clients report (DESIGN.md §1, "Clients and their cell phone"): contact details,
whether the cell phone can take texts and why not, the SMS subscription state with its date and
keyword, the last message; filters, search, paging, and never another business's clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from messagecenter.carriers.twilio.errors import explain
from messagecenter.clients.report import ClientRow, client_report
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations.queries import ensure_conversation
from messagecenter.models import Client
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.service import record_rejected
from tests.factories import make_business, make_client, text_from

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
MARIA, JAMES, AISHA, ZOE = "+12125550142", "+12125550143", "+12125550144", "+12125550145"


@dataclass
class Report:
    business_id: int
    other_business_id: int
    clients: dict[str, Client]  # by first name


@pytest.fixture
def report(session: Session, context: AppContext, clock: FrozenClock) -> Report:
    clock.set(T0)
    ours = make_business(session, context.carrier, T0)
    theirs = make_business(session, context.carrier, T0, business_phone="+13125550100")
    add = make_client
    clients = {
        "Maria": add(session, ours.business, T0, first_name="Maria", last_name="Lopez",
                     cell_phone=MARIA),
        "James": add(session, ours.business, T0, first_name="James", last_name="Chen",
                     cell_phone=JAMES),
        "Aisha": add(session, ours.business, T0, first_name="Aisha", last_name="Khan",
                     cell_phone=AISHA),
        "Tom": add(session, ours.business, T0, first_name="Tom", last_name="Baker",
                   cell_phone=None),
    }  # fmt: skip
    clients["Maria"].email = "maria@example.com"
    # Maria writes, then the business answers: her last message is the answer.
    text_from(session, ours.number, MARIA, "Hi!", T0 + timedelta(hours=1))
    send_message(
        session, ours.business, body="Hello Maria", sender=Sender.automated(),
        at=T0 + timedelta(hours=2), client=clients["Maria"],
    )  # fmt: skip
    # James texts STOP: unsubscribed, with the date and the keyword.
    text_from(session, ours.number, JAMES, "Stop.", T0 + timedelta(days=1))
    # The carrier says Aisha's number cannot take texts.
    refused = send_message(
        session, ours.business, body="Reminder", sender=Sender.automated(),
        at=T0 + timedelta(days=2), client=clients["Aisha"],
    )  # fmt: skip
    record_rejected(session, refused.id, explain(21614), "not a mobile", T0 + timedelta(days=2))

    # The other business: the same people, and Maria has unsubscribed there, not here.
    for first, last, phone in [("Maria", "Lopez", MARIA), ("Zoe", "Adams", ZOE)]:
        add(session, theirs.business, T0, first_name=first, last_name=last, cell_phone=phone)
    text_from(session, theirs.number, MARIA, "STOP", T0 + timedelta(days=3))
    text_from(session, theirs.number, ZOE, "Hello", T0 + timedelta(days=3))
    session.flush()
    for client in clients.values():
        session.refresh(client)
    return Report(ours.business.id, theirs.business.id, clients)


def _by_name(rows: list[ClientRow]) -> dict[str, ClientRow]:
    return {row.client.first_name: row for row in rows}


def test_rows_say_whether_the_cell_phone_can_take_texts_and_why_not(
    session: Session, report: Report
) -> None:
    rows, total = client_report(session, report.business_id)
    assert total == 4
    by = _by_name(rows)
    assert by["Maria"].sms_problem is None
    assert by["James"].sms_problem is None  # unsubscribed, but the phone itself is fine
    assert by["Tom"].sms_problem == "No cell phone on file"
    assert by["Aisha"].sms_problem is not None
    assert "cannot receive text messages" in by["Aisha"].sms_problem
    assert by["Maria"].client.email == "maria@example.com"


def test_rows_show_the_subscription_state_with_date_and_keyword(
    session: Session, report: Report
) -> None:
    by = _by_name(client_report(session, report.business_id)[0])
    james = by["James"]
    assert james.opted_out is True
    assert james.opted_out_at == T0 + timedelta(days=1)
    assert james.opt_out_keyword == "STOP"
    for name in ("Maria", "Aisha", "Tom"):
        # Maria unsubscribed from the other business only: here she is subscribed.
        assert (by[name].opted_out, by[name].opted_out_at, by[name].opt_out_keyword) == (
            False, None, None,
        ), name  # fmt: skip


def test_rows_show_the_last_message_and_its_conversation(session: Session, report: Report) -> None:
    by = _by_name(client_report(session, report.business_id)[0])
    assert by["Maria"].last_message_at == T0 + timedelta(hours=2)
    assert by["Maria"].conversation_id is not None
    assert by["James"].last_message_at == T0 + timedelta(days=1)
    assert by["Aisha"].last_message_at == T0 + timedelta(days=2)
    assert (by["Tom"].last_message_at, by["Tom"].conversation_id) == (None, None)


def test_rows_are_ordered_by_last_name_then_first_name(session: Session, report: Report) -> None:
    rows, _ = client_report(session, report.business_id)
    assert [r.client.last_name for r in rows] == ["Baker", "Chen", "Khan", "Lopez"]


def test_filter_no_valid_cell_phone(session: Session, report: Report) -> None:
    rows, total = client_report(session, report.business_id, show="no_valid_cell_phone")
    assert set(_by_name(rows)) == {"Tom", "Aisha"}
    assert total == 2
    assert all(r.sms_problem for r in rows)


def test_filter_unsubscribed(session: Session, report: Report) -> None:
    rows, total = client_report(session, report.business_id, show="unsubscribed")
    assert [r.client.first_name for r in rows] == ["James"]
    assert total == 1


def test_a_client_who_texts_start_again_leaves_the_unsubscribed_filter(
    session: Session, context: AppContext, report: Report
) -> None:
    from messagecenter.businesses.queries import active_number

    number = active_number(session, report.business_id)
    assert number is not None
    text_from(session, number, JAMES, "START", T0 + timedelta(days=4))
    rows, total = client_report(session, report.business_id, show="unsubscribed")
    assert (rows, total) == ([], 0)
    james = _by_name(client_report(session, report.business_id)[0])["James"]
    assert (james.opted_out, james.opted_out_at, james.opt_out_keyword) == (False, None, None)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("chen", {"James"}),
        ("MARIA LOPEZ", {"Maria"}),  # first and last name together, any case
        ("example.com", {"Maria"}),  # email
        ("5550144", {"Aisha"}),  # digits of the cell phone
        ("+1212555014", {"Maria", "James", "Aisha"}),
        ("zoe", set()),  # the other business's client
        ("%", set()),  # LIKE wildcards are taken literally
        ("_", set()),
        ("   ", {"Maria", "James", "Aisha", "Tom"}),  # blank is no search
    ],
)
def test_search_by_name_email_or_phone(
    session: Session, report: Report, search: str, expected: set[str]
) -> None:
    rows, total = client_report(session, report.business_id, search=search)
    assert set(_by_name(rows)) == expected
    assert total == len(expected)


def test_search_and_filter_combine(session: Session, report: Report) -> None:
    rows, total = client_report(session, report.business_id, show="no_valid_cell_phone", search="k")
    assert [r.client.first_name for r in rows] == ["Tom", "Aisha"]  # Baker, Khan
    assert total == 2
    rows, total = client_report(session, report.business_id, show="unsubscribed", search="maria")
    assert (rows, total) == ([], 0)


def test_paging_gives_every_client_once_and_the_total_of_all_pages(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    for n in range(7):
        make_client(
            session, setup.business, clock.now(), first_name=f"Client{n}", last_name=f"Z{6 - n}",
            cell_phone=f"+1212555{n + 1:04d}",
        )  # fmt: skip
    pages = [client_report(session, setup.business.id, limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [total for _, total in pages] == [7, 7, 7, 7]
    assert [len(rows) for rows, _ in pages] == [3, 3, 1, 0]
    names = [r.client.first_name for rows, _ in pages for r in rows]
    assert names == [f"Client{n}" for n in range(6, -1, -1)]  # by last name Z0..Z6


def test_another_business_never_appears(session: Session, report: Report) -> None:
    ours = {c.id for c in report.clients.values()}
    rows, total = client_report(session, report.business_id, limit=100)
    assert {r.client.id for r in rows} == ours
    assert total == 4
    theirs, their_total = client_report(session, report.other_business_id, limit=100)
    assert {r.client.first_name for r in theirs} == {"Maria", "Zoe"}
    assert their_total == 2
    assert not {r.client.id for r in theirs} & ours
    # Their Maria is unsubscribed there, and her last message is theirs, not ours.
    their_maria = _by_name(theirs)["Maria"]
    assert their_maria.opted_out and their_maria.opt_out_keyword == "STOP"
    assert their_maria.last_message_at == T0 + timedelta(days=3)
    for show in ("no_valid_cell_phone", "unsubscribed"):
        rows, _ = client_report(session, report.other_business_id, show=show)  # type: ignore[arg-type]
        assert not {r.client.id for r in rows} & ours


def test_a_conversation_opened_without_any_message_shows_no_last_message(
    session: Session, report: Report
) -> None:
    """'Text Tom' on a profile opens (creates) the conversation before anything is sent: the
    report must not show that moment as a last message (clients/report.py reads
    Conversation.last_message_at, which ensure_conversation sets to the opening time)."""
    tom = report.clients["Tom"]
    tom.cell_phone = "+12125550146"
    session.flush()
    ensure_conversation(session, report.business_id, "+12125550146", tom.id, T0 + timedelta(days=5))
    row = _by_name(client_report(session, report.business_id)[0])["Tom"]
    assert row.conversation_id is not None
    assert row.last_message_at is None
