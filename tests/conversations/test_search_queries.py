"""The inbox search through its indexes: names and phones are found through their own trigram
indexes (kept in step with every write), each way stops at its cap, and a search's page keeps
the inbox's order and its count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries, search_queries
from messagecenter.conversations.queries import ConversationFilter
from messagecenter.conversations.search import read_query
from messagecenter.conversations.service import update_flags
from messagecenter.models import Client, Conversation
from tests.factories import SetUp, make_business, make_client, text_from

MARIA = "+12125550142"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now())


def found(session: Session, setup: SetUp, typed: str, **filters: object) -> list[str]:
    search = read_query(typed, "US")
    assert search is not None
    flt = ConversationFilter(search=search, **filters)  # type: ignore[arg-type]
    rows, total = queries.list_conversations(session, setup.business.id, flt)
    if not filters:
        assert total == len(rows)
    return [conversation.phone for conversation, _ in rows]


def test_a_client_is_found_by_name_after_being_added_renamed_and_not_after_being_removed(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), first_name="Ngozi", last_name="Eze")
    text_from(session, shop.number, MARIA, "hello", clock.now())
    assert found(session, shop, "ngozi eze") == [MARIA]  # across first and last name

    session.execute(update(Client).where(Client.id == client.id).values(last_name="Okafor"))
    assert found(session, shop, "eze") == []
    assert found(session, shop, "zi Okaf") == [MARIA]

    session.execute(update(Conversation).values(client_id=None))
    session.execute(delete(Client).where(Client.id == client.id))
    assert found(session, shop, "ngozi") == []


def test_a_new_conversation_is_found_by_any_part_of_its_phone(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, "+13125550199", "first text from a new number", clock.now())
    assert found(session, shop, "0199") == ["+13125550199"]
    assert found(session, shop, "312 555") == ["+13125550199"]
    assert found(session, shop, "(312) 555-0199") == ["+13125550199"]
    assert found(session, shop, "4155550199") == []


def test_each_way_of_matching_stops_at_its_newest_matches(
    session: Session, clock: FrozenClock, shop: SetUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_queries, "MATCH_CAP", 2)
    phones = ["+12125550101", "+12125550102", "+12125550103"]
    for phone in phones:  # the third is the newest client, and the newest conversation
        make_client(session, shop.business, clock.now(), first_name="Okafor", cell_phone=phone)
        clock.advance(timedelta(minutes=1))
        text_from(session, shop.number, phone, "hi", clock.now())
    assert sorted(found(session, shop, "okafor")) == phones[1:]
    assert sorted(found(session, shop, "555010")) == phones[1:]


def test_a_search_page_keeps_the_inbox_order_and_counts_every_match(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    phones = [f"+1212555020{n}" for n in range(5)]
    for phone in phones:
        clock.advance(timedelta(minutes=1))
        text_from(session, shop.number, phone, "is the sauna open?", clock.now())
    oldest = queries.conversation_for_phone(session, shop.business.id, phones[0])
    assert oldest is not None
    update_flags(session, shop.business.id, oldest.id, pinned=True)

    newest_first = [phones[0], *reversed(phones[1:])]  # pinned first, then the newest
    assert found(session, shop, "sauna") == newest_first
    search = read_query("sauna", "US")
    assert search is not None
    rows, total = queries.list_conversations(
        session, shop.business.id, ConversationFilter(search=search, limit=2, offset=2)
    )
    assert total == 5
    assert [conversation.phone for conversation, _ in rows] == newest_first[2:4]
    # Past the end: no rows, and still how many were found (the page turns to the last).
    past = ConversationFilter(search=search, limit=2, offset=6)
    assert queries.list_conversations(session, shop.business.id, past) == ([], 5)
    # Filters still apply to what was found.
    assert found(session, shop, "sauna", folder="archived") == []


def test_the_total_is_counted_up_to_the_limit_asked(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    for n in range(5):
        text_from(session, shop.number, f"+1212555030{n}", "hello", clock.now())
    _, exact = queries.list_conversations(session, shop.business.id, ConversationFilter(limit=1))
    _, capped = queries.list_conversations(
        session, shop.business.id, ConversationFilter(limit=1, count_up_to=3)
    )
    assert (exact, capped) == (5, 3)

    # A later page reads on from its offset to the cap; past the end, the whole count.
    def page(offset: int, up_to: int) -> tuple[list[str], int]:
        flt = ConversationFilter(limit=2, offset=offset, count_up_to=up_to)
        rows, total = queries.list_conversations(session, shop.business.id, flt)
        return [conversation.phone[-1] for conversation, _ in rows], total

    assert page(0, 100) == (["4", "3"], 5)  # newest first
    assert page(2, 3) == (["2", "1"], 3)  # "3+": the cap, though the page reads past it
    assert page(4, 100) == (["0"], 5)
    assert page(6, 100) == ([], 5)


def test_text_and_names_are_found_in_any_case_accented_letters_too(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    # PostgreSQL compares lowercased copies (migration 0027), SQLite's FTS5 folds case:
    # either way what was typed matches in any case.
    make_client(session, shop.business, clock.now(), first_name="Élodie", cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "Is the CRÈME BRÛLÉE facial on Friday?", clock.now())
    assert found(session, shop, "crème brûlée") == [MARIA]
    assert found(session, shop, "Brûlée FACIAL") == [MARIA]
    assert found(session, shop, "ÉLODIE") == [MARIA]
    assert found(session, shop, "brulee") == []  # accents are letters of their own
