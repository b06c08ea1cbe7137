"""The staff pages over HTTP, without a browser: sign-in, CSRF, permissions, tenancy, the inbox
(search, folders, dates, paging, state changes), linking senders, keyword notes, the client
phone."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.campaigns import service as campaigns
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import ApiKey, Base, Client, Conversation, Message
from messagecenter.numbers.service import suggest_numbers
from messagecenter.saved_replies import service as saved_replies
from messagecenter.sending.compose import Sender
from messagecenter.staff.service import create_staff_member
from tests.factories import SetUp, make_business, make_client, text_from
from tests.web.conftest import csrf_of, open_conversation, owner_email_of, sign_in

MARIA = "+12125550142"
JAMES = "+12125550143"
AISHA = "+12125550144"
STRANGER = "+12125550199"
HTML = {"Accept": "text/html"}
EMPTY_INBOX = "No conversations yet — text a client from their profile"


@dataclass
class Shop:
    setup: SetUp
    owner_email: str
    clients: dict[str, Client]

    @property
    def business_id(self) -> int:
        return self.setup.business.id


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> Shop:
    setup = make_business(session, context.carrier, clock.now())
    clients = {
        first: make_client(
            session, setup.business, clock.now(), first_name=first, last_name=last, cell_phone=p
        )
        for first, last, p in (("Maria", "Lopez", MARIA), ("James", "Chen", JAMES))
    }
    clients["Aisha"] = make_client(
        session, setup.business, clock.now(), first_name="Aisha", last_name="Khan", cell_phone=None
    )
    session.commit()
    return Shop(setup, owner_email_of(session, setup.business.id), clients)


@pytest.fixture
def owner(web: TestClient, shop: Shop) -> TestClient:
    """`web`, signed in as the shop's owner."""
    signed = sign_in(web, shop.owner_email, shop.setup.owner_password)
    assert signed.status_code == 303 and signed.headers["location"] == "/inbox"
    return web


def text(response: httpx.Response) -> str:
    """The page as a reader sees its words (entities decoded)."""
    return html.unescape(response.text)


def receive(session: Session, shop: Shop, phone: str, body: str, clock: FrozenClock) -> int:
    """A client's text arrives; returns its conversation's id."""
    outcome = text_from(session, shop.setup.number, phone, body, clock.now())
    session.commit()
    assert outcome.message_id is not None
    conversation_id = session.scalar(
        select(Conversation.id).where(
            Conversation.business_id == shop.business_id, Conversation.phone == phone
        )
    )
    assert conversation_id is not None
    return int(conversation_id)


def inbox_ids(client: TestClient, **params: Any) -> list[int]:
    page = client.get("/inbox", params=params)
    assert page.status_code == 200, page.text
    return [
        int(i) for i in re.findall(r'<li class="[^"]*" data-conversation-id="(\d+)"', page.text)
    ]


def thread_of(page: httpx.Response) -> str:
    """The thread's messages on a conversation page, as HTML (without the list beside it)."""
    found = re.search(r'<ol class="thread".*?</ol>', page.text, re.S)
    assert found, "no thread on the page"
    return found.group(0)


def inbox_row(page: httpx.Response, conversation_id: int) -> str:
    """One conversation's row of the inbox list, as HTML."""
    found = re.search(
        rf'<li [^>]*data-conversation-id="{conversation_id}">(.*?)</li>', page.text, re.S
    )
    assert found, f"conversation {conversation_id} is not listed"
    return found.group(1)


def unread_badge(page: httpx.Response) -> int:
    found = re.search(r'id="unread-badge"[^>]*>(\d+)<', page.text)
    assert found, "no unread badge"
    return int(found.group(1))


def token(client: TestClient, path: str = "/inbox") -> str:
    return csrf_of(client.get(path).text)


def message_count(session: Session, business_id: int) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).select_from(Message).where(Message.business_id == business_id)
        )
        or 0
    )


def conversation_row(session: Session, conversation_id: int) -> Conversation:
    session.expire_all()
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation


# ---------------------------------------------------------------------------- sign-in


def test_home_sends_visitors_to_login_and_staff_to_the_inbox(web: TestClient, shop: Shop) -> None:
    assert web.get("/", follow_redirects=False).headers["location"] == "/login"
    assert web.get("/inbox", headers=HTML, follow_redirects=False).headers["location"] == "/login"
    sign_in(web, shop.owner_email, shop.setup.owner_password)
    assert web.get("/", follow_redirects=False).headers["location"] == "/inbox"


def test_a_wrong_password_is_refused_with_a_message(web: TestClient, shop: Shop) -> None:
    refused = sign_in(web, shop.owner_email, "not-the-password")
    assert refused.status_code == 401
    assert "That email and password do not match an active login." in text(refused)
    assert f'value="{shop.owner_email}"' in refused.text  # the email stays filled in


def test_the_session_cookie_is_httponly_and_samesite_lax(web: TestClient, shop: Shop) -> None:
    signed = sign_in(web, shop.owner_email, shop.setup.owner_password)
    [cookie] = [c for c in signed.headers.get_list("set-cookie") if c.startswith("mc_session=")]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("mc_session=")
    assert "httponly" in attributes
    assert re.search(r";\s*samesite=lax\b", cookie, re.IGNORECASE)
    assert "secure" in attributes  # public_url is https


# ---------------------------------------------------------------------------- CSRF


# Every form of the web app: its path (ids filled in) and what a real submission would carry.
FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "/login": ("/login", {"email": "{owner_email}", "password": "{owner_password}"}),
    "/logout": ("/logout", {}),
    "/conversations/{conversation_id}/messages": (
        "/conversations/{conversation}/messages",
        {"body": "Hello"},
    ),
    "/conversations/{conversation_id}/state": (
        "/conversations/{conversation}/state",
        {"action": "archive"},
    ),
    "/conversations/{conversation_id}/read": ("/conversations/{conversation}/read", {}),
    "/conversations/{conversation_id}/notes": (
        "/conversations/{conversation}/notes",
        {"body": "@Robin call her back"},
    ),
    "/conversations/{conversation_id}/assignee": (
        "/conversations/{conversation}/assignee",
        {"assignee_id": "{staff}"},
    ),
    "/preferences": ("/preferences", {"badge_counts": "mine", "badge_shown": "1"}),
    "/conversations/{conversation_id}/client": (
        "/conversations/{conversation}/client",
        {"first_name": "Nora", "last_name": "Quinn"},
    ),
    "/conversations/{conversation_id}/switches": (
        "/conversations/{conversation}/switches",
        {"switch": "sms_marketing", "on": "1"},
    ),
    "/phone": ("/phone", {"number": MARIA, "body": "Hi from Maria"}),
    "/clients": ("/clients", {"first_name": "Nora", "last_name": "Quinn", "cell_phone": AISHA}),
    "/clients/{client_id}": ("/clients/{client}", {"first_name": "Mary", "last_name": "Lopez"}),
    "/clients/{client_id}/text": ("/clients/{client_without_conversation}/text", {}),
    "/settings/number": ("/settings/number", {"phone_number": "{suggestion}", "confirm": "yes"}),
    "/settings/keyword-answers": ("/settings/keyword-answers", {"answered_by": "app"}),
    "/settings/quiet-hours": ("/settings/quiet-hours", {"strict_state_hours": "1"}),
    "/settings/marketing-cap": ("/settings/marketing-cap", {"marketing_cap": "4"}),
    "/settings/send-rate": ("/settings/send-rate", {"send_rate": "5"}),
    "/settings/saved-replies": ("/settings/saved-replies", {"name": "hours", "body": "9-5"}),
    "/settings/saved-replies/{saved_reply_id}": (
        "/settings/saved-replies/{saved_reply}",
        {"name": "hours", "body": "9-6"},
    ),
    "/settings/business-hours": (
        "/settings/business-hours",
        {"open_days": "0", "opens": "09:00", "closes": "17:00"},
    ),
    "/settings/api-keys": ("/settings/api-keys", {"name": "Booking system"}),
    "/settings/api-keys/{key_id}/revoke": ("/settings/api-keys/{key}/revoke", {"confirm": "yes"}),
    "/staff": ("/staff", {"email": "new@studio.example", "name": "New", "role": "staff"}),
    "/staff/{staff_id}": ("/staff/{staff}", {"action": "deactivate"}),
    "/staff/{staff_id}/password": ("/staff/{staff}/password", {"confirm": "yes"}),
    "/bulk-sends": ("/bulk-sends", {"body": "Closed Monday", "subscription": "any"}),
    "/bulk-sends/{bulk_send_id}/cancel": ("/bulk-sends/{bulk_send}/cancel", {}),
    "/bulk-sends/{bulk_send_id}": ("/bulk-sends/{bulk_send}", {"body": "Closed Tuesday"}),
    "/settings/webhooks": (
        "/settings/webhooks",
        {"url": "https://93.184.216.34/hooks", "events": "message.received"},
    ),
    "/settings/webhooks/{endpoint_id}/delete": ("/settings/webhooks/1/delete", {}),
    "/settings/unrouted-texts/{unrouted_id}/answer": ("/settings/unrouted-texts/1/answer", {}),
    "/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/send-again": (
        "/settings/webhooks/1/deliveries/1/send-again",
        {},
    ),
    "/settings/automated-messages/{type_name}": (
        "/settings/automated-messages/booking_reminder",
        {"enabled": "on", "body": "[BusinessName]: see you at [BookingTime], [Firstname]!"},
    ),
    "/settings/automated-messages-test-phone": (
        "/settings/automated-messages-test-phone",
        {"cell_phone": "+12125550177"},
    ),
}


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, through included routers (FastAPI keeps those as a branch of their own)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def test_the_csrf_check_covers_every_form_of_the_web_app(web: TestClient) -> None:
    """A guard: a new form must join FORMS (and so the CSRF test below)."""
    posted = {
        route.path
        for route in _routes(web.app.routes)  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and not route.include_in_schema  # the staff pages (the API and carriers are JSON)
        # the pages' own JSON helpers, and Twilio's signed webhooks: no forms
        and not route.path.startswith(("/app/", "/webhooks/"))
    }
    assert posted == set(FORMS)


def database_contents(session: Session) -> dict[str, list[tuple[object, ...]]]:
    session.expire_all()
    return {
        table.name: sorted((tuple(row) for row in session.execute(select(table)).all()), key=repr)
        for table in Base.metadata.sorted_tables
    }


@pytest.mark.parametrize("submitted", ["missing", "wrong"])
@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_needs_its_csrf_token(
    web: TestClient,
    shop: Shop,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    form: str,
    submitted: str,
) -> None:
    conversation_id = receive(session, shop, STRANGER, "Who is this?", clock)
    receptionist = create_staff_member(
        session,
        business_id=shop.business_id,
        email="reception@studio.example",
        name="Robin",
        role="staff",
        can_send_sms=True,
        password="reception-password",
        at=clock.now(),
    )
    bulk, _ = campaigns.create(
        session, shop.setup.business, request_key="csrf-test", body="Closed Monday",
        category="account", audience=campaigns.Audience(client_ids=(shop.clients["Maria"].id,)),
        sender=Sender.automated(), at=clock.now(),
    )  # fmt: skip
    reply = saved_replies.save_reply(
        session, shop.setup.business, name="parking", body="Park at the back", at=clock.now()
    )
    session.commit()
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.business_id == shop.business_id))
    values = {
        "saved_reply": str(reply.id),
        "bulk_send": str(bulk.id),
        "owner_email": shop.owner_email,
        "owner_password": shop.setup.owner_password,
        "conversation": str(conversation_id),
        "client": str(shop.clients["Maria"].id),
        "client_without_conversation": str(shop.clients["James"].id),
        "suggestion": suggest_numbers(session, shop.setup.business, context.carrier)[0],
        "key": str(key_id),
        "staff": str(receptionist.id),
    }
    if form != "/login":
        sign_in(web, shop.owner_email, shop.setup.owner_password)
    else:
        web.get("/login")  # a session with a token of its own: the posted one must match it
    template, fields = FORMS[form]
    path = template.format(**values)
    data = {name: value.format(**values) for name, value in fields.items()}
    if submitted == "wrong":
        data["csrf"] = "not-the-token-of-this-session"

    def signed_in() -> bool:
        return web.get("/inbox", headers=HTML, follow_redirects=False).status_code == 200

    before = (database_contents(session), signed_in())
    refused = web.post(path, data=data, follow_redirects=False)
    assert refused.status_code == 403, refused.text
    assert "This form has expired or did not come from this site." in text(refused)
    assert (database_contents(session), signed_in()) == before


def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(web: TestClient, shop: Shop) -> None:
    visitor = TestClient(web.app, base_url="https://testserver", raise_server_exceptions=False)
    visitor.get("/login")
    refused = visitor.post(
        "/login",
        data={"email": shop.owner_email, "password": shop.setup.owner_password, "csrf": "é"},
        follow_redirects=False,
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------- who sees what


def test_staff_of_another_business_get_404_for_this_business_conversation(
    web: TestClient, shop: Shop, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, MARIA, "Private to this business", clock)
    other = make_business(session, context.carrier, clock.now(), business_phone="+12125550111")
    session.commit()
    sign_in(web, owner_email_of(session, other.business.id), other.owner_password)

    for path in (f"/conversations/{conversation_id}", f"/conversations/{conversation_id}/thread"):
        page = web.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert "Private to this business" not in page.text
        assert "Not found" in page.text
    csrf = token(web)
    posted = web.post(
        f"/conversations/{conversation_id}/messages", data={"body": "Hi", "csrf": csrf}
    )
    assert posted.status_code == 404
    state = web.post(
        f"/conversations/{conversation_id}/state", data={"action": "archive", "csrf": csrf}
    )
    assert state.status_code == 404
    read = web.post(f"/conversations/{conversation_id}/read", data={"csrf": csrf})
    assert read.status_code == 404
    assert conversation_row(session, conversation_id).folder == "unread"
    assert message_count(session, shop.business_id) == 1
    assert inbox_ids(web) == []  # its own inbox is empty


def test_staff_without_the_send_permission_cannot_reply(
    web: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, MARIA, "Can I book for Friday?", clock)
    create_staff_member(
        session,
        business_id=shop.business_id,
        email="reception@studio.example",
        name="Robin (reception)",
        role="staff",
        can_send_sms=False,
        password="reception-password",
        at=clock.now(),
    )
    session.commit()
    sign_in(web, "reception@studio.example", "reception-password")

    page = web.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200
    assert "You don't have permission to send SMS to clients." in text(page)
    assert re.search(r'<button type="submit" id="send"\s+disabled', page.text)
    assert "Can I book for Friday?" in page.text  # reading is allowed

    refused = web.post(
        f"/conversations/{conversation_id}/messages",
        data={"body": "Yes!", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "You do not have permission to send SMS to clients." in text(refused)
    assert message_count(session, shop.business_id) == 1


# ---------------------------------------------------------------------------- the inbox


def test_an_empty_inbox_says_how_to_start(owner: TestClient) -> None:
    page = owner.get("/inbox")
    assert page.status_code == 200
    assert EMPTY_INBOX in text(page)
    assert unread_badge(page) == 0
    assert "Nothing in Unread." in text(owner.get("/inbox", params={"folder": "unread"}))


def test_inbox_search_by_name_phone_and_text(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Can I move my 3pm massage to 4?", clock)
    james = receive(session, shop, JAMES, "Running late, sorry", clock)
    stranger = receive(session, shop, STRANGER, "Do you have yoga classes on Sunday?", clock)

    assert sorted(inbox_ids(owner)) == sorted([maria, james, stranger])
    assert inbox_ids(owner, q="lopez") == [maria]
    assert inbox_ids(owner, q="Maria Lo") == [maria]
    assert inbox_ids(owner, q="5550143") == [james]
    assert inbox_ids(owner, q="YOGA") == [stranger]
    assert inbox_ids(owner, q="100%") == []  # the user's % is a character, not a wildcard
    nothing = owner.get("/inbox", params={"q": "pilates"})
    assert "No conversations match these filters." in text(nothing)


def test_inbox_search_shows_an_old_matching_message_highlighted_and_opens_the_thread_at_it(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Is the <b>hot</b> stone MASSAGE & facial 60 min?", clock)
    for n in range(205):  # the thread page shows the newest 200: the match is older
        receive(session, shop, MARIA, f"later text {n}", clock)
    session.expire_all()
    found_id = session.scalar(select(Message.id).where(Message.body.like("%stone MASSAGE%")))

    page = owner.get("/inbox", params={"q": "massage"})
    row = inbox_row(page, maria)
    # The match, marked, with the client's own markup shown as text (escaped), not obeyed.
    assert "&lt;b&gt;hot&lt;/b&gt; stone <mark>MASSAGE</mark> &amp; facial" in row
    assert "<b>" not in row
    assert f'href="/conversations/{maria}?around={found_id}#message-{found_id}"' in row

    thread = owner.get(f"/conversations/{maria}", params={"around": found_id})
    assert thread.status_code == 200
    assert re.search(rf'class="msg inbound client found" id="message-{found_id}"', thread.text)
    assert 'id="older-part"' in thread.text  # and a way back to the newest
    assert "later text 204" not in thread_of(thread)  # an older part, around the match
    assert "later text 20<" in thread_of(thread)
    # The live refresh keeps to that part.
    fragment = owner.get(f"/conversations/{maria}/thread", params={"around": found_id})
    assert f'id="message-{found_id}"' in fragment.text and "later text 204" not in fragment.text
    # Without `around`, the newest messages, as before.
    assert "later text 204" in thread_of(owner.get(f"/conversations/{maria}"))


def test_inbox_search_by_a_phone_as_people_write_it(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "hi", clock)
    receive(session, shop, JAMES, "hello", clock)
    for typed in ("(212) 555-0142", "212-555-0142", "+1 212 555 0142", "2125550142", "0142"):
        assert inbox_ids(owner, q=typed) == [maria], typed


def test_a_thread_around_another_conversations_message_shows_its_own_newest(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "hi from maria", clock)
    receive(session, shop, JAMES, "hi from james", clock)
    session.expire_all()
    james_message = session.scalar(select(Message.id).where(Message.body == "hi from james"))
    page = owner.get(f"/conversations/{maria}", params={"around": james_message})
    assert page.status_code == 200
    assert "hi from maria" in thread_of(page) and "hi from james" not in thread_of(page)
    assert 'id="older-part"' not in page.text
    assert owner.get(f"/conversations/{maria}", params={"around": "x"}).status_code == 400


def test_inbox_folders_follow_reading_and_replying(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello", clock)
    james = receive(session, shop, JAMES, "Hi there", clock)
    stranger = receive(session, shop, STRANGER, "Hey", clock)

    assert unread_badge(owner.get("/inbox")) == 3
    open_conversation(owner, maria)  # reading it
    page = owner.get(f"/conversations/{james}")
    replied = owner.post(
        f"/conversations/{james}/messages", data={"body": "See you!", "csrf": csrf_of(page.text)}
    )
    assert replied.status_code == 200 and "See you!" in replied.text

    assert inbox_ids(owner, folder="unread") == [stranger]
    assert inbox_ids(owner, folder="read") == [maria]
    assert inbox_ids(owner, folder="replied") == [james]
    assert inbox_ids(owner, folder="archived") == []
    assert unread_badge(owner.get("/inbox")) == 1
    assert owner.get("/inbox", params={"folder": "spam"}, headers=HTML).status_code == 400


def test_opening_a_conversation_changes_nothing_until_the_page_posts_read(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello", clock)
    james = receive(session, shop, JAMES, "Hi there", clock)
    before = database_contents(session)

    # GETs are safe: the page and its live thread fragment store nothing (not even "read").
    page = owner.get(f"/conversations/{maria}")
    assert page.status_code == 200 and "Hello" in page.text
    assert unread_badge(page) == 2  # as it was when the page was made
    assert owner.get(f"/conversations/{maria}/thread").status_code == 200
    assert database_contents(session) == before

    # The page's script posts /read (with the page's token); the answer is the new badge.
    token = re.findall(r'<article class="conversation" [^>]*data-csrf="([^"]+)"', page.text)
    assert token == [csrf_of(page.text)]
    read = owner.post(f"/conversations/{maria}/read", data={"csrf": token[0]})
    assert read.status_code == 200 and read.json() == {"unread": 1}
    assert conversation_row(session, maria).folder == "read"
    assert conversation_row(session, maria).unread_count == 0
    assert conversation_row(session, james).folder == "unread"
    again = owner.post(f"/conversations/{maria}/read", data={"csrf": token[0]})
    assert again.json() == {"unread": 1}  # reading twice is reading once


def test_inbox_date_filter_and_a_bad_date(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()  # 2026-11-16
    clock.set(now - timedelta(days=10))
    old = receive(session, shop, MARIA, "Last month's booking", clock)
    clock.set(now)
    new = receive(session, shop, JAMES, "This week's booking", clock)

    assert inbox_ids(owner, since="2026-11-10") == [new]
    assert inbox_ids(owner, until="2026-11-10") == [old]
    assert inbox_ids(owner, since="2026-11-06", until="2026-11-06") == [old]
    assert inbox_ids(owner, since="2026-11-16", until="2026-11-16") == [new]
    assert inbox_ids(owner, since="2026-11-17") == []

    bad = owner.get("/inbox", params={"since": "2026-02-30"})
    assert bad.status_code == 400  # the page itself, saying what to change
    assert "Dates are written like 2026-11-30." in text(bad)
    assert 'value="2026-02-30"' in bad.text  # kept for correcting


def test_inbox_dates_are_days_in_the_business_time_zone(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    assert shop.setup.business.timezone == "America/New_York"
    # 21:59 on 16 November in New York (the owner signed in under 12 hours before)
    clock.set(datetime(2026, 11, 17, 2, 59, tzinfo=UTC))
    late = receive(session, shop, MARIA, "Sorry to text so late", clock)
    assert inbox_ids(owner, since="2026-11-16", until="2026-11-16") == [late]
    assert inbox_ids(owner, since="2026-11-17") == []


def test_times_are_shown_in_the_business_time_zone(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    assert clock.now() == datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # 10:00 in New York
    conversation_id = receive(session, shop, MARIA, "Good morning!", clock)
    assert "Nov 16, 10:00\u202fAM</time>" in owner.get("/inbox").text
    assert "Nov 16, 10:00\u202fAM</time>" in owner.get(f"/conversations/{conversation_id}").text


def test_inbox_pages_of_25(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    ids = []
    for n in range(26):
        clock.advance(timedelta(minutes=1))
        ids.append(receive(session, shop, f"+1212555{300 + n:04d}", f"Text number {n}", clock))
    newest_first = list(reversed(ids))

    first = owner.get("/inbox")
    assert "26 conversations · page 1 of 2" in text(first)
    assert "page=2" in first.text and "Previous" not in first.text
    assert inbox_ids(owner) == newest_first[:25]
    second = owner.get("/inbox", params={"page": 2})
    assert "page 2 of 2" in text(second)
    assert "Previous" in second.text and "Next" not in second.text
    assert inbox_ids(owner, page=2) == newest_first[25:]
    assert inbox_ids(owner, page=2, q="Text number") == newest_first[25:]  # filters kept


def test_state_form_mark_unread_pin_mute_and_archive(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "First", clock)
    clock.advance(timedelta(minutes=1))
    james = receive(session, shop, JAMES, "Second", clock)
    clock.advance(timedelta(minutes=1))
    stranger = receive(session, shop, STRANGER, "Third", clock)
    assert inbox_ids(owner) == [stranger, james, maria]

    def act(conversation_id: int, action: str) -> httpx.Response:
        return owner.post(
            f"/conversations/{conversation_id}/state",
            data={"action": action, "csrf": token(owner)},
            follow_redirects=False,
        )

    # Mark as unread: back in Unread with a count, and back to the inbox (not reopened).
    open_conversation(owner, maria)
    assert unread_badge(owner.get("/inbox")) == 2
    marked = act(maria, "unread")
    assert marked.status_code == 303 and marked.headers["location"] == "/inbox"
    inbox = owner.get("/inbox")
    assert unread_badge(inbox) == 3
    assert maria in inbox_ids(owner, folder="unread")
    assert 'aria-label="1 unread"' in inbox_row(inbox, maria)

    # Pin: first in the list, marked as pinned.
    assert act(maria, "pin").headers["location"] == f"/conversations/{maria}"
    inbox = owner.get("/inbox")
    assert inbox_ids(owner) == [maria, stranger, james]
    assert re.search(rf'<li class="unread pinned" data-conversation-id="{maria}"', inbox.text)
    assert "Pinned" in inbox_row(inbox, maria)
    assert "Pinned" not in inbox_row(inbox, james)
    act(maria, "unpin")
    assert inbox_ids(owner) == [stranger, james, maria]

    # Mute: left out of the badge, shown as muted.
    act(james, "mute")
    inbox = owner.get("/inbox")
    assert unread_badge(inbox) == 2
    assert re.search(rf'class="unread muted" data-conversation-id="{james}"', inbox.text)
    assert "Muted" in inbox_row(inbox, james)
    assert "Muted" not in inbox_row(inbox, maria)
    act(james, "unmute")
    assert unread_badge(owner.get("/inbox")) == 3

    # Archive: out of Unread, into Archived; and back.
    act(stranger, "archive")
    assert stranger not in inbox_ids(owner, folder="unread")
    assert inbox_ids(owner, folder="archived") == [stranger]
    page = open_conversation(owner, stranger)
    assert "Move back to inbox" in page.text
    act(stranger, "unarchive")
    assert inbox_ids(owner, folder="archived") == []
    assert stranger in inbox_ids(owner, folder="read")  # it was opened above

    assert act(maria, "delete").status_code == 400  # only the listed actions


# ---------------------------------------------------------------------------- unidentified senders


def test_an_unidentified_sender_is_linked_to_an_existing_client(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, STRANGER, "Hi, it's Aisha from my new phone", clock)
    page = owner.get(f"/conversations/{conversation_id}")
    assert "unidentified sender" in page.text and "Who is this?" in page.text
    assert "(unidentified)" in owner.get("/inbox").text
    aisha = shop.clients["Aisha"]

    linked = owner.post(
        f"/conversations/{conversation_id}/client",
        data={"client_id": str(aisha.id), "csrf": csrf_of(page.text)},
    )
    assert linked.status_code == 200
    assert "<h1>Aisha Khan</h1>" in linked.text
    assert "Who is this?" not in linked.text
    assert conversation_row(session, conversation_id).client_id == aisha.id
    assert "(unidentified)" not in owner.get("/inbox").text
    assert inbox_ids(owner, q="aisha") == [conversation_id]


def test_an_unidentified_sender_is_saved_as_a_new_client(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, STRANGER, "Do you do gift cards?", clock)
    page = owner.get(f"/conversations/{conversation_id}")
    saved = owner.post(
        f"/conversations/{conversation_id}/client",
        data={
            "client_id": "",
            "first_name": "Nora",
            "last_name": "Quinn",
            "csrf": csrf_of(page.text),
        },
    )
    assert saved.status_code == 200
    assert "<h1>Nora Quinn</h1>" in saved.text
    session.expire_all()
    nora = session.scalar(
        select(Client).where(Client.business_id == shop.business_id, Client.first_name == "Nora")
    )
    assert nora is not None and nora.cell_phone == STRANGER
    assert conversation_row(session, conversation_id).client_id == nora.id

    # A choice that is not a client is refused with a message, and nothing changes.
    other = receive(session, shop, "+12125550198", "Hello?", clock)
    page = owner.get(f"/conversations/{other}")
    refused = owner.post(
        f"/conversations/{other}/client", data={"client_id": "abc", "csrf": csrf_of(page.text)}
    )
    assert "Choose a client." in text(refused)
    assert conversation_row(session, other).client_id is None


# ---------------------------------------------------------------------------- keywords


def test_the_cancel_hint_appears_when_the_clients_last_text_was_cancel(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, MARIA, "Looking forward to Friday", clock)
    assert 'id="cancel-note"' not in owner.get(f"/conversations/{conversation_id}").text

    receive(session, shop, MARIA, "Cancel.", clock)
    page = owner.get(f"/conversations/{conversation_id}")
    assert 'id="cancel-note"' in page.text
    assert "The client's last text was CANCEL." in text(page)
    assert 'id="unsubscribed-note"' in page.text and "by texting CANCEL" in page.text


def test_stop_shows_the_carriers_automatic_reply_and_locks_the_composer(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    conversation_id = receive(session, shop, JAMES, "STOP", clock)
    page = owner.get(f"/conversations/{conversation_id}")
    assert "Automatic reply from the carrier" in page.text
    assert 'id="cancel-note"' not in page.text
    assert re.search(r"This client unsubscribed on .* by texting STOP\.", text(page))
    assert re.search(r'<button type="submit" id="send"\s+disabled', page.text)
    assert '<span class="tag">Unsubscribed</span>' in owner.get("/inbox").text

    refused = owner.post(
        f"/conversations/{conversation_id}/messages",
        data={"body": "Are you sure?", "csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 200  # back on the page, saying why
    assert "This client unsubscribed from your texts on 2026-11-16 by texting STOP." in text(
        refused
    )
    assert message_count(session, shop.business_id) == 2  # STOP and the carrier's reply only


# ---------------------------------------------------------------------------- the client phone


def test_the_client_phone_texts_the_business_on_the_simulator(
    owner: TestClient, shop: Shop, session: Session
) -> None:
    page = owner.get("/phone")
    assert page.status_code == 200
    assert f'<option value="{MARIA}">Maria Lopez · (212) 555-0142</option>' in page.text
    assert f'title="{shop.setup.number.phone_number}"' in page.text
    empty = owner.get("/phone", params={"number": MARIA})
    assert "Nothing between this phone and the business yet." in empty.text

    sent = owner.post(
        "/phone",
        data={"number": "(212) 555-0142", "body": "Hi from my phone", "csrf": csrf_of(empty.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/phone?number=%2B12125550142"
    assert "Hi from my phone" in owner.get(sent.headers["location"]).text

    session.expire_all()
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.business_id == shop.business_id, Conversation.phone == MARIA
        )
    )
    assert conversation is not None
    inbox = owner.get("/inbox")
    assert unread_badge(inbox) == 1 and "Hi from my phone" in inbox.text

    # The business's reply shows on the phone too.
    reply_page = owner.get(f"/conversations/{conversation.id}")
    owner.post(
        f"/conversations/{conversation.id}/messages",
        data={"body": "Hello Maria!", "csrf": csrf_of(reply_page.text)},
    )
    assert "Hello Maria!" in owner.get("/phone", params={"number": MARIA}).text
