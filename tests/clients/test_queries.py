"""Tenant isolation in the data layer: client queries never cross businesses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from messagecenter.clients.queries import get_client, list_clients
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import make_business, make_client


def test_get_client_with_another_business_id_returns_none(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    client = make_client(session, ours.business, clock.now())

    assert get_client(session, ours.business.id, client.id) is client
    assert get_client(session, theirs.business.id, client.id) is None
    assert get_client(session, ours.business.id, client.id + 10_000) is None


def test_list_clients_never_returns_another_business_rows(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    mine = [
        make_client(session, ours.business, clock.now(), first_name="Maria"),
        make_client(session, ours.business, clock.now(), first_name="Ana", cell_phone=None),
    ]
    # Same names and the same phone at the other business.
    make_client(session, theirs.business, clock.now(), first_name="Maria")
    make_client(session, theirs.business, clock.now(), first_name="Mariana")

    everyone, total = list_clients(session, ours.business.id, search=None, limit=50, offset=0)
    assert {c.id for c in everyone} == {c.id for c in mine}
    assert total == 2

    for term in ("maria", "lopez", "+1212", "5550142"):
        found, total = list_clients(session, ours.business.id, search=term, limit=50, offset=0)
        assert all(c.business_id == ours.business.id for c in found), term
        assert total == len(found)

    found, total = list_clients(session, ours.business.id, search="Mari", limit=50, offset=0)
    assert [c.id for c in found] == [mine[0].id]
    assert total == 1


def test_list_clients_searches_names_email_and_phone(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    maria = make_client(session, setup.business, clock.now())
    ben = make_client(
        session,
        setup.business,
        clock.now(),
        first_name="Ben",
        last_name="Okafor",
        cell_phone="+12125550143",
    )
    ben.email = "ben@okafor.example"
    session.flush()

    def search(term: str) -> list[int]:
        found, _ = list_clients(session, setup.business.id, search=term, limit=50, offset=0)
        return [c.id for c in found]

    assert search("maria lopez") == [maria.id]
    assert search("OKAFOR") == [ben.id]
    assert search("okafor.example") == [ben.id]
    assert search("5550143") == [ben.id]
    assert search("nobody") == []
    assert sorted(search("  ")) == sorted([maria.id, ben.id])


def test_list_clients_pages_in_name_order(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    names = [("Cara", "Young"), ("Ann", "Adams"), ("Bea", "Adams"), ("Dan", "Moss"), ("Eve", "Li")]
    for first, last in names:
        make_client(session, setup.business, clock.now(), first_name=first, last_name=last)

    page, total = list_clients(session, setup.business.id, search=None, limit=2, offset=2)
    assert total == 5
    assert [(c.first_name, c.last_name) for c in page] == [("Eve", "Li"), ("Dan", "Moss")]
    last, _ = list_clients(session, setup.business.id, search=None, limit=2, offset=4)
    assert [c.first_name for c in last] == ["Cara"]


def test_search_wildcards_are_taken_literally(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    maria = make_client(session, setup.business, clock.now())
    maria.email = "maria_lopez@example.com"
    session.flush()

    def search(term: str) -> list[int]:
        found, _ = list_clients(session, setup.business.id, search=term, limit=50, offset=0)
        return [c.id for c in found]

    assert search("%") == []
    assert search("_") == [maria.id]  # the underscore in the email, nothing more
    assert search("maria_") == [maria.id]
    assert search("mari_") == []
    assert search("m%z") == []
