"""Conversation and message queries: tenant isolation in the data layer, filters and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from messagecenter.campaigns import service as campaigns
from messagecenter.campaigns.service import Audience
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries, search_queries
from messagecenter.conversations.queries import ConversationFilter
from messagecenter.conversations.search import SearchQuery, read_query
from messagecenter.conversations.service import mark_read, update_flags
from messagecenter.models import Conversation
from messagecenter.sending.compose import Sender, send_message
from tests.factories import SetUp, make_business, make_client, staff_sender, text_from

MARIA = "+12125550142"
JOHN = "+12125550143"
STRANGER = "+12125550177"


@pytest.fixture
def pair(session: Session, context: AppContext, clock: FrozenClock) -> tuple[SetUp, SetUp]:
    """Two businesses, each with a conversation from the same phone number."""
    a = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    b = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    make_client(session, a.business, clock.now(), cell_phone=MARIA)
    make_client(session, b.business, clock.now(), first_name="Bea", cell_phone=MARIA)
    text_from(session, a.number, MARIA, "hello A", clock.now())
    text_from(session, b.number, MARIA, "hello B", clock.now())
    return a, b


def conversation_of(session: Session, setup: SetUp, phone: str) -> Conversation:
    conversation = queries.conversation_for_phone(session, setup.business.id, phone)
    assert conversation is not None
    return conversation


def names(rows: list[tuple[Conversation, object]]) -> list[str]:
    return [conversation.phone for conversation, _ in rows]


def searching(typed: str) -> SearchQuery:
    search = read_query(typed, "US")
    assert search is not None
    return search


# ---------------------------------------------------------------------------- tenant isolation


def test_get_conversation_is_scoped_to_the_business(
    session: Session, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    theirs = conversation_of(session, b, MARIA)
    ours = conversation_of(session, a, MARIA)

    assert queries.get_conversation(session, a.business.id, theirs.id) is None
    assert queries.get_conversation(session, a.business.id, theirs.id, for_update=True) is None
    found = queries.get_conversation(session, a.business.id, ours.id)
    assert found is not None and found.id == ours.id


def test_get_message_is_scoped_to_the_business(
    session: Session, context: AppContext, clock: FrozenClock, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    theirs = text_from(session, b.number, JOHN, "secret", clock.now()).message_id
    ours = text_from(session, a.number, JOHN, "ours", clock.now()).message_id
    assert theirs is not None and ours is not None

    assert queries.get_message(session, a.business.id, theirs) is None
    message = queries.get_message(session, a.business.id, ours)
    assert message is not None and message.body == "ours"


def test_list_messages_of_another_businesss_conversation_is_empty(
    session: Session, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    theirs = conversation_of(session, b, MARIA)

    assert queries.list_messages(session, a.business.id, theirs.id, limit=50, before_id=None) == []
    own = queries.list_messages(session, b.business.id, theirs.id, limit=50, before_id=None)
    assert [m.body for m in own] == ["hello B"]


def test_list_conversations_shows_only_the_businesss_own(
    session: Session, clock: FrozenClock, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    text_from(session, b.number, JOHN, "only B", clock.now())
    b_client = conversation_of(session, b, MARIA).client_id
    assert b_client is not None

    rows, total = queries.list_conversations(session, a.business.id, ConversationFilter())
    assert total == 1
    assert [c.business_id for c, _ in rows] == [a.business.id]
    client = rows[0][1]
    assert client is not None and client.business_id == a.business.id

    rows, total = queries.list_conversations(
        session, a.business.id, ConversationFilter(client_id=b_client)
    )
    assert (rows, total) == ([], 0)
    rows, total = queries.list_conversations(
        session, a.business.id, ConversationFilter(search=searching("only B"))
    )
    assert (rows, total) == ([], 0)


def test_client_for_phone_is_scoped_to_the_business(
    session: Session, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    client = queries.client_for_phone(session, b.business.id, MARIA)
    assert client is not None
    assert client.business_id == b.business.id and client.first_name == "Bea"
    assert queries.client_for_phone(session, a.business.id, STRANGER) is None


def test_the_same_phone_has_one_conversation_per_business(
    session: Session, clock: FrozenClock, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    first = queries.ensure_conversation(session, a.business.id, MARIA, None, clock.now())
    again = queries.ensure_conversation(session, a.business.id, MARIA, None, clock.now())
    other = queries.ensure_conversation(session, b.business.id, MARIA, None, clock.now())

    assert first.id == again.id == conversation_of(session, a, MARIA).id
    assert other.id != first.id and other.business_id == b.business.id
    assert first.client_id is not None  # ensuring again does not unlink the client


# ---------------------------------------------------------------------------- filters and paging


@pytest.fixture
def inbox(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    make_client(session, setup.business, clock.now(), first_name="Maria", last_name="Lopez")
    make_client(
        session, setup.business, clock.now(), first_name="John", last_name="Baker", cell_phone=JOHN
    )
    text_from(session, setup.number, MARIA, "Can I book yoga?", clock.now())
    clock.advance(timedelta(hours=1))
    text_from(session, setup.number, JOHN, "Running late", clock.now())
    clock.advance(timedelta(hours=1))
    text_from(session, setup.number, STRANGER, "Who owns the parking lot?", clock.now())
    return setup


def test_conversations_are_listed_pinned_first_then_newest_first(
    session: Session, inbox: SetUp
) -> None:
    biz = inbox.business
    rows, total = queries.list_conversations(session, biz.id, ConversationFilter())
    assert total == 3
    assert names(rows) == [STRANGER, JOHN, MARIA]

    update_flags(session, biz.id, conversation_of(session, inbox, MARIA).id, pinned=True)
    rows, _ = queries.list_conversations(session, biz.id, ConversationFilter())
    assert names(rows) == [MARIA, STRANGER, JOHN]


def test_conversations_filter_by_folder(session: Session, clock: FrozenClock, inbox: SetUp) -> None:
    biz = inbox.business
    mark_read(session, biz.id, conversation_of(session, inbox, JOHN).id, clock.now())
    update_flags(session, biz.id, conversation_of(session, inbox, STRANGER).id, archived=True)

    def folder(name: str) -> list[str]:
        rows, total = queries.list_conversations(session, biz.id, ConversationFilter(folder=name))
        assert total == len(rows)
        return names(rows)

    assert folder("unread") == [MARIA]
    assert folder("read") == [JOHN]
    assert folder("archived") == [STRANGER]
    assert folder("replied") == []


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("maria", [MARIA]),  # first name, any case
        ("LOPEZ", [MARIA]),
        ("john baker", [JOHN]),  # full name
        ("5550143", [JOHN]),  # part of the phone number
        ("+12125550177", [STRANGER]),  # an unidentified contact by number
        ("yoga", [MARIA]),  # the text of the last message
        ("PARKING", [STRANGER]),
        ("nothing like this", []),
    ],
)
def test_conversations_search_by_name_phone_or_text(
    session: Session, inbox: SetUp, search: str, expected: list[str]
) -> None:
    rows, total = queries.list_conversations(
        session, inbox.business.id, ConversationFilter(search=searching(search))
    )
    assert names(rows) == expected
    assert total == len(expected)


def test_conversations_filter_by_client_and_date(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    biz = inbox.business
    john = conversation_of(session, inbox, JOHN)
    assert john.client_id is not None

    rows, total = queries.list_conversations(
        session, biz.id, ConversationFilter(client_id=john.client_id)
    )
    assert (names(rows), total) == ([JOHN], 1)

    start = clock.now() - timedelta(hours=2)
    rows, _ = queries.list_conversations(
        session, biz.id, ConversationFilter(since=start + timedelta(minutes=30))
    )
    assert names(rows) == [STRANGER, JOHN]
    rows, _ = queries.list_conversations(
        session, biz.id, ConversationFilter(until=start + timedelta(minutes=30))
    )
    assert names(rows) == [MARIA]


def test_conversations_page_with_a_total(session: Session, inbox: SetUp) -> None:
    biz = inbox.business
    first, total = queries.list_conversations(session, biz.id, ConversationFilter(limit=2))
    second, total_again = queries.list_conversations(
        session, biz.id, ConversationFilter(limit=2, offset=2)
    )

    assert total == total_again == 3
    assert names(first) == [STRANGER, JOHN]
    assert names(second) == [MARIA]


def test_messages_are_listed_oldest_first_and_page_backwards(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    for n in range(4):
        clock.advance(timedelta(minutes=1))
        text_from(session, inbox.number, MARIA, f"more {n}", clock.now())
    conversation = conversation_of(session, inbox, MARIA)

    everything = queries.list_messages(
        session, inbox.business.id, conversation.id, limit=100, before_id=None
    )
    assert [m.body for m in everything] == [
        "Can I book yoga?",
        "more 0",
        "more 1",
        "more 2",
        "more 3",
    ]

    latest = queries.list_messages(
        session, inbox.business.id, conversation.id, limit=2, before_id=None
    )
    assert [m.body for m in latest] == ["more 2", "more 3"]
    older = queries.list_messages(
        session, inbox.business.id, conversation.id, limit=2, before_id=latest[0].id
    )
    assert [m.body for m in older] == ["more 0", "more 1"]


def test_the_badge_counter_moves_by_the_delta_given(session: Session, inbox: SetUp) -> None:
    biz = inbox.business
    assert queries.business_unread(session, biz.id) == 3
    assert queries.adjust_business_unread(session, biz.id, 0) == 3
    assert queries.adjust_business_unread(session, biz.id, -2) == 1
    assert queries.business_unread(session, biz.id) == 1


# ---------------------------------------------------------------------------- search


def found_phones(session: Session, setup: SetUp, typed: str) -> list[str]:
    rows, total = queries.list_conversations(
        session, setup.business.id, ConversationFilter(search=searching(typed))
    )
    assert total == len(rows)
    return names(rows)


def test_search_finds_a_word_of_an_old_message_and_names_that_message(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    old = text_from(session, inbox.number, MARIA, "Is a hot stone massage 60 min?", clock.now())
    for later in ("Thanks!", "See you then", "Running 5 min late"):
        clock.advance(timedelta(days=3))
        text_from(session, inbox.number, MARIA, later, clock.now())

    assert found_phones(session, inbox, "MASSAGE") == [MARIA]
    assert found_phones(session, inbox, "stone mass") == [MARIA]  # a phrase, across words
    maria = conversation_of(session, inbox, MARIA)
    matches = queries.newest_matches(session, inbox.business.id, [maria.id], searching("massage"))
    assert matches[maria.id].id == old.message_id


def test_search_finds_the_newest_of_several_matching_messages(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    text_from(session, inbox.number, MARIA, "massage on Monday?", clock.now())
    clock.advance(timedelta(hours=1))
    newer = text_from(session, inbox.number, MARIA, "or a massage on Tuesday", clock.now())
    maria = conversation_of(session, inbox, MARIA)
    matches = queries.newest_matches(session, inbox.business.id, [maria.id], searching("massage"))
    assert matches[maria.id].id == newer.message_id


@pytest.mark.parametrize(
    "typed",
    ["(212) 555-0142", "212-555-0142", "+1 212 555 0142", "2125550142", "212.555.0142",
     "+12125550142", "0142", "5550142", "555-0142"],
)  # fmt: skip
def test_search_finds_a_phone_in_any_usual_form_and_by_its_last_digits(
    session: Session, inbox: SetUp, typed: str
) -> None:
    assert found_phones(session, inbox, typed) == [MARIA]


def test_a_short_search_finds_names_and_phones_but_not_message_text(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    text_from(session, inbox.number, JOHN, "ok", clock.now())
    assert found_phones(session, inbox, "ok") == []  # too short for the text index
    assert found_phones(session, inbox, "jo") == [JOHN]  # his name


def test_search_never_finds_another_businesss_messages_names_or_phones(
    session: Session, clock: FrozenClock, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    text_from(session, b.number, JOHN, "a private massage booking", clock.now())
    assert found_phones(session, a, "massage") == []
    assert found_phones(session, a, "hello B") == []
    assert found_phones(session, a, "Bea") == []  # B's client has A's client's phone
    assert found_phones(session, a, "(212) 555-0143") == []  # B's other conversation
    theirs = conversation_of(session, b, JOHN)
    assert queries.newest_matches(session, a.business.id, [theirs.id], searching("massage")) == {}


def test_the_search_index_keeps_up_with_every_way_a_message_is_written(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    business = inbox.business
    text_from(session, inbox.number, MARIA, "inbound quokka", clock.now())
    send_message(
        session,
        business,
        body="staff wombat",
        sender=staff_sender(session, business),
        conversation=conversation_of(session, inbox, JOHN),
        at=clock.now(),
    )
    make_client(session, business, clock.now(), first_name="Ana", cell_phone="+12125550101",
                sms_marketing=True)  # fmt: skip
    campaigns.create(
        session, business, request_key="k-1", body="Hi [Firstname], bulk numbat at Studio",
        category="marketing", audience=Audience(), sender=Sender.automated(), at=clock.now(),
    )  # fmt: skip
    session.flush()

    assert found_phones(session, inbox, "quokka") == [MARIA]
    assert found_phones(session, inbox, "wombat") == [JOHN]
    assert found_phones(session, inbox, "numbat") == ["+12125550101"]


def test_messages_around_an_old_message_put_it_in_the_middle(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    ids = []
    for n in range(10):
        clock.advance(timedelta(minutes=1))
        outcome = text_from(session, inbox.number, JOHN, f"text {n}", clock.now())
        assert outcome.message_id is not None
        ids.append(outcome.message_id)
    john = conversation_of(session, inbox, JOHN)
    around = queries.messages_around(session, inbox.business.id, john.id, ids[5], limit=4)
    assert [m.body for m in around] == ["text 4", "text 5", "text 6", "text 7"]
    # Near the start, the window fills from later messages.
    first = queries.messages_around(session, inbox.business.id, john.id, ids[0], limit=4)
    assert first[0].body == "Running late" and ids[0] in [m.id for m in first]


def test_a_common_text_lists_the_conversations_of_its_newest_uses(
    session: Session, clock: FrozenClock, inbox: SetUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_queries, "MATCH_CAP", 2)
    for phone in (MARIA, JOHN, STRANGER):  # STRANGER's is the newest use, MARIA's the oldest
        clock.advance(timedelta(minutes=1))
        text_from(session, inbox.number, phone, "a massage please", clock.now())
    assert sorted(found_phones(session, inbox, "massage")) == sorted([JOHN, STRANGER])
    assert found_phones(session, inbox, "yoga") == [MARIA]  # a rare text is found however old


def test_a_thread_page_says_whether_older_messages_remain(
    session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    for n in range(4):
        clock.advance(timedelta(minutes=1))
        text_from(session, inbox.number, MARIA, f"more {n}", clock.now())
    conversation = conversation_of(session, inbox, MARIA)
    biz = inbox.business.id

    newest, older = queries.thread_page(session, biz, conversation.id, limit=2, before_id=None)
    assert [m.body for m in newest] == ["more 2", "more 3"] and older
    middle, older = queries.thread_page(
        session, biz, conversation.id, limit=2, before_id=newest[0].id
    )
    assert [m.body for m in middle] == ["more 0", "more 1"] and older
    first, older = queries.thread_page(
        session, biz, conversation.id, limit=2, before_id=middle[0].id
    )
    assert [m.body for m in first] == ["Can I book yoga?"] and not older
    # Exactly a page left: no older page is promised.
    whole, older = queries.thread_page(session, biz, conversation.id, limit=5, before_id=None)
    assert len(whole) == 5 and not older
    # What arrived after a message, oldest first.
    after = queries.messages_after(session, biz, conversation.id, middle[0].id, limit=10)
    assert [m.body for m in after] == ["more 1", "more 2", "more 3"]


def test_a_thread_page_and_what_came_after_keep_to_the_business(
    session: Session, pair: tuple[SetUp, SetUp]
) -> None:
    a, b = pair
    theirs = conversation_of(session, b, MARIA)
    assert queries.thread_page(session, a.business.id, theirs.id, limit=5, before_id=None) == (
        [],
        False,
    )
    assert queries.messages_after(session, a.business.id, theirs.id, 0, limit=5) == []


def test_folder_counts_count_each_folder_up_to_the_cap(
    session: Session, clock: FrozenClock, inbox: SetUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    biz = inbox.business.id
    folders = ("unread", "read", "replied", "archived")
    counts = queries.folder_counts(session, biz, folders)
    assert counts == {"all": 3, "unread": 3, "read": 0, "replied": 0, "archived": 0}
    mark_read(session, biz, conversation_of(session, inbox, MARIA).id, clock.now())
    counts = queries.folder_counts(session, biz, folders)
    assert (counts["unread"], counts["read"], counts["all"]) == (2, 1, 3)
    # Past the cap a count stops there: the list shows "999+", without reading every row.
    monkeypatch.setattr(queries, "FOLDER_COUNT_CAP", 2)
    assert queries.folder_counts(session, biz, folders)["all"] == 2
