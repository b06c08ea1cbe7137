"""The conversations JSON API: sending, the inbox, unread, and tenant isolation over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries
from messagecenter.models import Client, Conversation, Message
from messagecenter.sending.compose import Outgoing, Sender, send_messages
from tests.factories import SetUp, make_business, make_client, text_from

MARIA = "+12125550142"
JOHN = "+12125550143"
STRANGER = "+12125550177"
UK_MOBILE = "+447911123456"


def assert_error(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return dict(error)


def message_count(session: Session, business_id: int) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).select_from(Message).where(Message.business_id == business_id)
        )
        or 0
    )


def conversation_of(session: Session, setup: SetUp, phone: str) -> Conversation:
    session.expire_all()
    conversation = queries.conversation_for_phone(session, setup.business.id, phone)
    assert conversation is not None
    return conversation


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    session.commit()
    return setup


@pytest.fixture
def maria(session: Session, clock: FrozenClock, shop: SetUp) -> Client:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    session.commit()
    return client


@pytest.fixture
def other(session: Session, context: AppContext, clock: FrozenClock, shop: SetUp) -> SetUp:
    """A second business (another area code, so another number), with a conversation."""
    setup = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    make_client(session, setup.business, clock.now(), first_name="Theirs", cell_phone=MARIA)
    text_from(session, setup.number, MARIA, "their secret", clock.now())
    session.commit()
    return setup


# ---------------------------------------------------------------------------- sending


def test_send_queues_a_message_with_its_counts_and_the_keys_name(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    sent = api.post(
        "/api/v1/messages",
        json={"client_id": maria.id, "body": "a" * 161},
        headers=shop.auth,
    )

    assert sent.status_code == 201, sent.text
    body = sent.json()
    message = body["message"]
    assert message["status"] == "queued"
    assert message["direction"] == "outbound"
    assert (message["segments"], message["encoding"], message["units"]) == (2, "GSM-7", 1)
    assert message["sender"] == {"type": "api_key", "name": "Owner's key"}
    assert message["body"] == "a" * 161
    assert body["warnings"] == []
    stored = session.get(Message, message["id"])
    assert stored is not None and stored.business_id == shop.business.id
    assert stored.dispatch_state == "pending"

    fetched = api.get(f"/api/v1/messages/{message['id']}", headers=shop.auth)
    assert fetched.status_code == 200
    assert fetched.json()["sender"]["name"] == "Owner's key"


def test_an_emoji_is_sent_as_ucs2(api: TestClient, shop: SetUp, maria: Client) -> None:
    sent = api.post(
        "/api/v1/messages",
        json={"client_id": maria.id, "body": "See you \U0001f44b"},
        headers=shop.auth,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["encoding"] == "UCS-2"


def test_send_into_a_conversation_by_its_id(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, STRANGER, "who's this?", clock.now())
    session.commit()
    conversation = conversation_of(session, shop, STRANGER)

    sent = api.post(
        "/api/v1/messages",
        json={"conversation_id": conversation.id, "body": "The studio!"},
        headers=shop.auth,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["conversation_id"] == conversation.id

    reply = api.post(
        f"/api/v1/conversations/{conversation.id}/messages",
        json={"body": "How can we help?"},
        headers=shop.auth,
    )
    assert reply.status_code == 201, reply.text
    assert message_count(session, shop.business.id) == 3


@pytest.mark.parametrize("which", ["both", "neither"])
def test_send_needs_exactly_one_of_client_and_conversation(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client, which: str
) -> None:
    text_from(session, shop.number, MARIA, "hi", clock.now())
    session.commit()
    conversation = conversation_of(session, shop, MARIA)
    before = message_count(session, shop.business.id)
    payload: dict[str, Any] = {"body": "Hello"}
    if which == "both":
        payload |= {"client_id": maria.id, "conversation_id": conversation.id}

    response = api.post("/api/v1/messages", json=payload, headers=shop.auth)

    error = assert_error(response, 400, "invalid_input")
    assert error.get("field")
    assert message_count(session, shop.business.id) == before


@pytest.mark.parametrize("body", ["", "   \n "])
def test_send_refuses_an_empty_body_and_names_the_field(
    api: TestClient, session: Session, shop: SetUp, maria: Client, body: str
) -> None:
    response = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": body}, headers=shop.auth
    )

    error = assert_error(response, 400, "invalid_input")
    assert error["field"] == "body"
    assert message_count(session, shop.business.id) == 0


def test_send_refuses_1601_characters_and_accepts_1600(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    too_long = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": "x" * 1601}, headers=shop.auth
    )
    error = assert_error(too_long, 400, "invalid_input")
    assert "1600" in error["message"] or "1,600" in error["message"]
    assert message_count(session, shop.business.id) == 0

    ok = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": "x" * 1600}, headers=shop.auth
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["message"]["segments"] == 11


@pytest.mark.parametrize("body", ["x" * 1601, 42])
def test_a_badly_formed_body_is_named_as_the_field_to_fix(
    api: TestClient, shop: SetUp, maria: Client, body: object
) -> None:
    """DESIGN.md §2: 400 bad input comes with the field, also when the request model refuses it
    (the message field happens to be called "body")."""
    response = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": body}, headers=shop.auth
    )

    error = assert_error(response, 400, "invalid_input")
    assert error.get("field") == "body"


def test_a_badly_formed_other_field_is_named_too(
    api: TestClient, shop: SetUp, maria: Client
) -> None:
    response = api.post(
        "/api/v1/messages", json={"client_id": "maria", "body": "hi"}, headers=shop.auth
    )

    error = assert_error(response, 400, "invalid_input")
    assert error.get("field") == "client_id"


def test_send_to_an_unknown_client_is_404(api: TestClient, session: Session, shop: SetUp) -> None:
    response = api.post(
        "/api/v1/messages", json={"client_id": 987654, "body": "Hello"}, headers=shop.auth
    )
    assert_error(response, 404, "not_found")
    assert message_count(session, shop.business.id) == 0


def test_send_to_another_businesss_client_is_404_and_creates_nothing(
    api: TestClient, session: Session, shop: SetUp, other: SetUp
) -> None:
    theirs = session.scalar(select(Client.id).where(Client.business_id == other.business.id))
    their_conversation = conversation_of(session, other, MARIA)
    before_theirs = message_count(session, other.business.id)

    by_client = api.post(
        "/api/v1/messages", json={"client_id": theirs, "body": "Hello"}, headers=shop.auth
    )
    by_conversation = api.post(
        "/api/v1/messages",
        json={"conversation_id": their_conversation.id, "body": "Hello"},
        headers=shop.auth,
    )
    reply = api.post(
        f"/api/v1/conversations/{their_conversation.id}/messages",
        json={"body": "Hello"},
        headers=shop.auth,
    )

    for response in (by_client, by_conversation, reply):
        assert_error(response, 404, "not_found")
    assert message_count(session, shop.business.id) == 0
    assert message_count(session, other.business.id) == before_theirs
    session.expire_all()
    assert (
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.business_id == shop.business.id)
        )
        == 0
    )


def test_send_to_an_unsubscribed_client_is_409(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    text_from(session, shop.number, MARIA, "STOP", clock.now())
    session.commit()
    before = message_count(session, shop.business.id)

    response = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": "Sale!"}, headers=shop.auth
    )

    error = assert_error(response, 409, "client_unsubscribed")
    assert "STOP" in error["message"] and "2026-11-16" in error["message"]
    assert message_count(session, shop.business.id) == before


def test_send_past_a_hard_stop_allowance_is_409_and_writes_nothing(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1, policy="hard_stop")
    client = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, setup.business, clock.now(), first_name="John", cell_phone=JOHN)
    session.commit()
    first = api.post(
        "/api/v1/messages", json={"client_id": client.id, "body": "one"}, headers=setup.auth
    )
    assert first.status_code == 201, first.text

    second = api.post(
        "/api/v1/messages", json={"client_id": john.id, "body": "two"}, headers=setup.auth
    )

    error = assert_error(second, 409, "allowance_exhausted")
    assert "allowance" in error["message"]
    assert message_count(session, setup.business.id) == 1
    assert queries.conversation_for_phone(session, setup.business.id, JOHN) is None
    usage = api.get("/api/v1/usage", headers=setup.auth).json()
    assert usage["used"] == 1


def test_sending_to_a_foreign_number_warns_that_replies_may_not_arrive(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    briton = make_client(
        session, shop.business, clock.now(), first_name="Ann", cell_phone=UK_MOBILE
    )
    session.commit()

    abroad = api.post(
        "/api/v1/messages", json={"client_id": briton.id, "body": "Hi Ann"}, headers=shop.auth
    )
    at_home = api.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": "Hi Maria"}, headers=shop.auth
    )

    assert abroad.status_code == 201, abroad.text
    warnings = abroad.json()["warnings"]
    assert len(warnings) == 1 and "replies may not arrive" in warnings[0]
    assert at_home.json()["warnings"] == []
    conversation = api.get(
        f"/api/v1/conversations/{abroad.json()['message']['conversation_id']}", headers=shop.auth
    ).json()
    assert conversation["foreign_number_warning"]


def test_requests_without_a_valid_key_are_401(api: TestClient, shop: SetUp) -> None:
    assert_error(api.get("/api/v1/conversations"), 401)
    assert_error(api.get("/api/v1/conversations", headers={"Authorization": "Bearer mc_nope"}), 401)


# ---------------------------------------------------------------------------- the inbox


@pytest.fixture
def inbox(session: Session, clock: FrozenClock, shop: SetUp, maria: Client) -> SetUp:
    make_client(
        session, shop.business, clock.now(), first_name="John", last_name="Baker", cell_phone=JOHN
    )
    text_from(session, shop.number, MARIA, "Can I book yoga?", clock.now())
    clock.advance(timedelta(hours=1))
    text_from(session, shop.number, JOHN, "Running late", clock.now())
    clock.advance(timedelta(hours=1))
    text_from(session, shop.number, STRANGER, "Where do I park?", clock.now())
    session.commit()
    return shop


def phones(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["phone"] for item in response.json()["items"]]


def test_list_conversations_with_filters_search_and_paging(
    api: TestClient, session: Session, inbox: SetUp, maria: Client
) -> None:
    auth = inbox.auth
    everything = api.get("/api/v1/conversations", headers=auth)
    assert phones(everything) == [STRANGER, JOHN, MARIA]
    assert everything.json()["total"] == 3
    first = everything.json()["items"][2]
    assert first["client_id"] == maria.id and first["client_name"] == "Maria Lopez"
    assert first["subscription"]["subscribed"] is True
    assert everything.json()["items"][0]["client_name"] is None  # an unidentified contact

    page = api.get("/api/v1/conversations", params={"limit": 2, "offset": 2}, headers=auth)
    assert phones(page) == [MARIA]
    assert (page.json()["total"], page.json()["limit"], page.json()["offset"]) == (3, 2, 2)

    conversation = conversation_of(session, inbox, JOHN)
    api.post(f"/api/v1/conversations/{conversation.id}/read", headers=auth)
    assert phones(api.get("/api/v1/conversations?folder=read", headers=auth)) == [JOHN]
    assert phones(api.get("/api/v1/conversations?folder=unread", headers=auth)) == [
        STRANGER,
        MARIA,
    ]
    assert phones(api.get("/api/v1/conversations?folder=replied", headers=auth)) == []
    assert_error(api.get("/api/v1/conversations?folder=spam", headers=auth), 400)

    for search, expected in [
        ("lopez", [MARIA]),
        ("John Baker", [JOHN]),
        ("5550177", [STRANGER]),
        ("yoga", [MARIA]),
        ("park", [STRANGER]),
    ]:
        found = api.get("/api/v1/conversations", params={"search": search}, headers=auth)
        assert phones(found) == expected, search
        assert found.json()["total"] == len(expected)

    by_client = api.get("/api/v1/conversations", params={"client_id": maria.id}, headers=auth)
    assert phones(by_client) == [MARIA]


def test_the_api_search_finds_old_messages_and_phones_as_the_inbox_does(
    api: TestClient, session: Session, clock: FrozenClock, inbox: SetUp, other: SetUp
) -> None:
    auth = inbox.auth
    old = text_from(session, inbox.number, MARIA, "A Massage, then a massage?", clock.now())
    clock.advance(timedelta(hours=1))
    text_from(session, inbox.number, MARIA, "Thanks", clock.now())
    session.commit()

    found = api.get("/api/v1/conversations", params={"search": "massage"}, headers=auth)
    assert phones(found) == [MARIA]
    match = found.json()["items"][0]["search_match"]
    assert match["message_id"] == old.message_id
    assert match["body"] == "A Massage, then a massage?"
    assert match["highlights"] == [[2, 9], [18, 25]]
    # A name or phone match names no message; another business's text is never found.
    by_phone = api.get("/api/v1/conversations", params={"search": "(212) 555-0143"}, headers=auth)
    assert phones(by_phone) == [JOHN] and by_phone.json()["items"][0]["search_match"] is None
    secret = api.get("/api/v1/conversations", params={"search": "secret"}, headers=auth)
    assert phones(secret) == []


def test_read_and_unread_move_the_counts_and_the_badge(
    api: TestClient, session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    auth = inbox.auth
    text_from(session, inbox.number, MARIA, "Hello?", clock.now())
    session.commit()
    maria_id = conversation_of(session, inbox, MARIA).id
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 4}

    read = api.post(f"/api/v1/conversations/{maria_id}/read", headers=auth)
    assert read.status_code == 200, read.text
    assert (read.json()["unread_count"], read.json()["folder"]) == (0, "read")
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 2}

    unread = api.post(f"/api/v1/conversations/{maria_id}/unread", headers=auth)
    assert (unread.json()["unread_count"], unread.json()["folder"]) == (1, "unread")
    again = api.post(f"/api/v1/conversations/{maria_id}/unread", headers=auth)
    assert again.json()["unread_count"] == 1
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 3}

    fetched = api.get(f"/api/v1/conversations/{maria_id}", headers=auth).json()
    assert fetched["unread_count"] == 1


def test_a_reply_through_the_api_moves_the_conversation_to_replied(
    api: TestClient, session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    auth = inbox.auth
    maria_id = conversation_of(session, inbox, MARIA).id

    reply = api.post(
        f"/api/v1/conversations/{maria_id}/messages", json={"body": "Yes, 6pm"}, headers=auth
    )

    assert reply.status_code == 201, reply.text
    conversation = api.get(f"/api/v1/conversations/{maria_id}", headers=auth).json()
    assert (conversation["folder"], conversation["unread_count"]) == ("replied", 0)
    assert conversation["last_message_preview"] == "Yes, 6pm"
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 2}
    assert phones(api.get("/api/v1/conversations?folder=replied", headers=auth)) == [MARIA]


def test_patch_pins_mutes_archives_and_links_a_client(
    api: TestClient, session: Session, clock: FrozenClock, inbox: SetUp
) -> None:
    auth = inbox.auth
    stranger_id = conversation_of(session, inbox, STRANGER).id
    maria_id = conversation_of(session, inbox, MARIA).id

    pinned = api.patch(f"/api/v1/conversations/{maria_id}", json={"pinned": True}, headers=auth)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned"] is True
    assert phones(api.get("/api/v1/conversations", headers=auth))[0] == MARIA

    muted = api.patch(f"/api/v1/conversations/{maria_id}", json={"muted": True}, headers=auth)
    assert muted.json()["muted"] is True
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 2}
    api.patch(f"/api/v1/conversations/{maria_id}", json={"muted": False}, headers=auth)
    assert api.get("/api/v1/unread", headers=auth).json() == {"unread": 3}

    archived = api.patch(
        f"/api/v1/conversations/{stranger_id}", json={"archived": True}, headers=auth
    )
    assert archived.json()["folder"] == "archived"
    assert phones(api.get("/api/v1/conversations?folder=archived", headers=auth)) == [STRANGER]
    text_from(session, inbox.number, STRANGER, "hello again", clock.now())
    session.commit()
    back = api.get(f"/api/v1/conversations/{stranger_id}", headers=auth).json()
    assert (back["folder"], back["unread_count"]) == ("unread", 2)

    sam = make_client(session, inbox.business, clock.now(), first_name="Sam", cell_phone=None)
    session.commit()
    linked = api.patch(
        f"/api/v1/conversations/{stranger_id}", json={"client_id": sam.id}, headers=auth
    )
    assert linked.status_code == 200, linked.text
    assert (linked.json()["client_id"], linked.json()["client_name"]) == (sam.id, "Sam Lopez")

    assert_error(
        api.patch(f"/api/v1/conversations/{maria_id}", json={"color": "red"}, headers=auth), 400
    )


def test_linking_another_businesss_client_is_404_and_changes_nothing(
    api: TestClient, session: Session, inbox: SetUp, other: SetUp
) -> None:
    stranger_id = conversation_of(session, inbox, STRANGER).id
    theirs = session.scalar(select(Client.id).where(Client.business_id == other.business.id))

    response = api.patch(
        f"/api/v1/conversations/{stranger_id}",
        json={"pinned": True, "client_id": theirs},
        headers=inbox.auth,
    )

    assert_error(response, 404, "not_found")
    conversation = conversation_of(session, inbox, STRANGER)
    assert conversation.client_id is None
    assert conversation.pinned is False


def test_the_thread_lists_messages_in_order_with_sender_names(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    session.commit()
    simulator = context.simulator
    assert simulator is not None
    simulator.receive_from_phone(MARIA, shop.number.phone_number, "Hi!")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text
    clock.advance(timedelta(seconds=1))
    sent = api.post(
        "/api/v1/messages", json={"client_id": client.id, "body": "Hello"}, headers=shop.auth
    )
    assert sent.status_code == 201
    clock.advance(timedelta(seconds=1))
    simulator.receive_from_phone(MARIA, shop.number.phone_number, "STOP")
    context.intake.process_queued()
    conversation_id = sent.json()["message"]["conversation_id"]

    thread = api.get(f"/api/v1/conversations/{conversation_id}/messages", headers=shop.auth)

    assert thread.status_code == 200, thread.text
    items = thread.json()["items"]
    assert [(m["direction"], m["sender"]["type"], m["body"]) for m in items][:3] == [
        ("inbound", "client", "Hi!"),
        ("outbound", "api_key", "Hello"),
        ("inbound", "client", "STOP"),
    ]
    assert [m["sender"]["name"] for m in items[:2]] == [MARIA, "Owner's key"]
    carrier = items[3]
    assert carrier["sender"]["type"] == "carrier"
    assert "carrier" in carrier["sender"]["name"].lower()
    assert carrier["units"] == 0
    assert "unsubscribed" in carrier["body"]
    assert len(items) == 4
    conversation = api.get(f"/api/v1/conversations/{conversation_id}", headers=shop.auth).json()
    assert conversation["subscription"]["subscribed"] is False
    assert conversation["subscription"]["keyword"] == "STOP"


def test_the_thread_names_the_apps_own_replies_automated(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    shop.number.carrier_handles_keywords = False
    session.commit()
    text_from(session, shop.number, MARIA, "help", clock.now())
    session.commit()
    conversation_id = conversation_of(session, shop, MARIA).id

    items = api.get(f"/api/v1/conversations/{conversation_id}/messages", headers=shop.auth).json()[
        "items"
    ]

    assert [(m["sender"]["type"], m["sender"]["name"]) for m in items] == [
        ("client", MARIA),
        ("automated", "Automated"),
    ]
    assert items[1]["units"] == 1 and items[1]["status"] == "queued"


# ---------------------------------------------------------------------------- tenant isolation


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/api/v1/conversations/{id}", None),
        ("PATCH", "/api/v1/conversations/{id}", {"archived": True}),
        ("POST", "/api/v1/conversations/{id}/read", None),
        ("POST", "/api/v1/conversations/{id}/unread", None),
        ("GET", "/api/v1/conversations/{id}/messages", None),
        ("POST", "/api/v1/conversations/{id}/messages", {"body": "Hi"}),
    ],
)
def test_another_businesss_conversation_is_404(
    api: TestClient,
    session: Session,
    shop: SetUp,
    other: SetUp,
    method: str,
    path: str,
    payload: dict[str, Any] | None,
) -> None:
    theirs = conversation_of(session, other, MARIA)
    before = (theirs.folder, theirs.unread_count, message_count(session, other.business.id))

    response = api.request(method, path.format(id=theirs.id), json=payload, headers=shop.auth)

    assert_error(response, 404, "not_found")
    assert "their secret" not in response.text
    after = conversation_of(session, other, MARIA)
    assert (after.folder, after.unread_count, message_count(session, other.business.id)) == before
    assert api.get("/api/v1/unread", headers=other.auth).json() == {"unread": 1}


def test_another_businesss_message_and_conversations_stay_hidden(
    api: TestClient, session: Session, shop: SetUp, other: SetUp
) -> None:
    their_message = session.scalar(
        select(Message.id).where(Message.business_id == other.business.id)
    )
    theirs = conversation_of(session, other, MARIA)

    assert_error(api.get(f"/api/v1/messages/{their_message}", headers=shop.auth), 404, "not_found")
    listed = api.get("/api/v1/conversations", headers=shop.auth)
    assert listed.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    by_client = api.get(
        "/api/v1/conversations", params={"client_id": theirs.client_id}, headers=shop.auth
    )
    assert by_client.json()["total"] == 0
    assert api.get("/api/v1/unread", headers=shop.auth).json() == {"unread": 0}


def test_a_message_held_for_quiet_hours_says_when_it_goes(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    night = datetime(2026, 11, 16, 22, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    (held,) = send_messages(
        session,
        shop.business,
        [Outgoing("Your class is tomorrow", client=maria, quiet_hours=True)],
        sender=Sender.automated(),
        at=night,
    )
    assert isinstance(held, Message)
    session.commit()
    shown = api.get(f"/api/v1/messages/{held.id}", headers=shop.auth).json()
    assert shown["status"] == "queued"
    assert shown["waits_until"] == "2026-11-17T13:00:00Z"
    assert shown["waits_until_note"].startswith("Waits until 08:00 client time (Tue 17 Nov")


# ------------------------------------------------------------ never two answers at once


def received(
    session: Session, shop: SetUp, body: str, at: datetime, *, sender: str = MARIA
) -> Message:
    outcome = text_from(session, shop.number, sender, body, at)
    message = session.get(Message, outcome.message_id)
    assert message is not None
    return message


def test_a_reply_from_the_newest_message_is_sent(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    newest = received(session, shop, "Can I move to 3pm?", clock.now())
    session.commit()
    sent = api.post(
        f"/api/v1/conversations/{newest.conversation_id}/messages",
        json={"body": "Yes, see you at 3", "last_seen_message_id": newest.id},
        headers=shop.auth,
    )
    assert sent.status_code == 201, sent.text
    assert message_count(session, shop.business.id) == 2


def test_a_reply_from_an_older_message_is_refused_with_the_newer_ones(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    seen = received(session, shop, "Can I move to 3pm?", clock.now())
    colleague = api.post(  # a colleague answered meanwhile
        f"/api/v1/conversations/{seen.conversation_id}/messages",
        json={"body": "Moved you to 3pm!", "last_seen_message_id": seen.id},
        headers=shop.auth,
    )
    assert colleague.status_code == 201, colleague.text
    text_from(session, shop.number, MARIA, "Thanks!", clock.now() + timedelta(seconds=40))
    session.commit()

    refused = api.post(
        f"/api/v1/conversations/{seen.conversation_id}/messages",
        json={"body": "Yes, 3pm works", "last_seen_message_id": seen.id},
        headers=shop.auth,
    )

    error = assert_error(refused, 409, "conversation_changed")
    assert error["field"] == "last_seen_message_id"
    assert "2 newer messages" in error["message"] and "nothing was sent" in error["message"]
    newer = error["newer_messages"]
    assert [m["body"] for m in newer] == ["Moved you to 3pm!", "Thanks!"]
    assert [m["direction"] for m in newer] == ["outbound", "inbound"]
    assert message_count(session, shop.business.id) == 3  # nothing new was queued


def test_a_last_seen_message_of_another_conversation_is_refused(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    theirs = received(session, shop, "Hello?", clock.now(), sender=JOHN)
    mine = received(session, shop, "Hi", clock.now())
    session.commit()
    refused = api.post(
        f"/api/v1/conversations/{mine.conversation_id}/messages",
        json={"body": "Hello Maria", "last_seen_message_id": theirs.id},
        headers=shop.auth,
    )
    error = assert_error(refused, 400, "invalid_input")
    assert error["field"] == "last_seen_message_id"
    assert message_count(session, shop.business.id) == 2


def test_a_threads_messages_page_back_by_the_before_cursor_and_next_link(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        text_from(session, shop.number, MARIA, f"text {n}", clock.now())
    session.commit()
    conversation = conversation_of(session, shop, MARIA)
    url = f"/api/v1/conversations/{conversation.id}/messages"

    pages, link = [], f"{url}?limit=2"
    while link:
        answer = api.get(link, headers=shop.auth)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([m["body"] for m in page["items"]])
        link = page["next"]
        # The cursor is the page's oldest message, and the link carries it.
        if link:
            assert page["before"] == page["items"][0]["id"]
            assert link == f"{url}?limit=2&before={page['before']}"
        else:
            assert page["before"] is None
    assert pages == [["text 3", "text 4"], ["text 1", "text 2"], ["text 0"]]

    # The former before_id still works; `before` wins when both are given.
    newest = api.get(url, params={"limit": 2}, headers=shop.auth).json()
    cursor = newest["before"]
    by_old_name = api.get(url, params={"limit": 2, "before_id": cursor}, headers=shop.auth)
    assert [m["body"] for m in by_old_name.json()["items"]] == ["text 1", "text 2"]
    both = api.get(
        url, params={"limit": 2, "before": cursor, "before_id": 1}, headers=shop.auth
    ).json()
    assert [m["body"] for m in both["items"]] == ["text 1", "text 2"]
    # A whole thread in one page: no next page.
    whole = api.get(url, headers=shop.auth).json()
    assert len(whole["items"]) == 5 and whole["next"] is None and whole["before"] is None
    assert_error(api.get(url, params={"before": "x"}, headers=shop.auth), 400)
