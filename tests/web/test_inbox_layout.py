"""The inbox's pages over HTTP, without a browser: a thread's first page and the pages before
it (the same cursor as the API), the live list's fragment with its folder counts, the client
panel, and New message's client search over every client."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.conversations import queries
from messagecenter.models import Client, Conversation, Message
from messagecenter.sending.compose import Sender, send_message
from messagecenter.web import routes as web_routes
from tests.factories import make_client
from tests.web import test_pages
from tests.web.conftest import csrf_of
from tests.web.test_pages import JAMES, MARIA, STRANGER, Shop, receive, thread_of

# The page tests' shop (a business, its owner, three clients) and its signed-in owner.
shop = test_pages.shop
owner = test_pages.owner


def message_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-message-id="(\d+)"', html)]


def ids_of(session: Session, conversation_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Message.id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        )
    )


def test_a_thread_shows_its_newest_page_and_links_to_the_one_before(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "text 0", clock)
    for n in range(1, 120):
        receive(session, shop, MARIA, f"text {n}", clock)
    every = ids_of(session, maria)

    page = owner.get(f"/conversations/{maria}")
    assert message_ids(thread_of(page)) == every[-50:]
    # The cursor is the oldest message shown, as the page's link and the thread's data say.
    assert f'href="/conversations/{maria}?before={every[-50]}"' in page.text
    assert f'data-before="{every[-50]}"' in page.text

    # The page's script loads the page before it as staff scroll up; without the script the
    # link opens it, with a way back to the newest.
    older = owner.get(f"/conversations/{maria}/thread", params={"before": every[-50]})
    assert message_ids(older.text) == every[-100:-50]
    assert f'data-before="{every[-100]}"' in older.text
    first = owner.get(f"/conversations/{maria}/thread", params={"before": every[-100]})
    assert message_ids(first.text) == every[:20] and 'data-before=""' in first.text
    opened = owner.get(f"/conversations/{maria}", params={"before": every[-50]})
    assert message_ids(thread_of(opened)) == every[-100:-50]
    assert 'id="older-part"' in opened.text

    # New arrivals after the newest shown, for the live thread.
    receive(session, shop, MARIA, "just now", clock)
    fresh = owner.get(f"/conversations/{maria}/thread", params={"after": every[-1]})
    assert "just now" in fresh.text and len(message_ids(fresh.text)) == 1
    assert owner.get(f"/conversations/{maria}/thread", params={"before": "x"}).status_code == 400


def test_the_list_fragment_has_the_folder_counts_and_the_badge_it_goes_with(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello", clock)
    receive(session, shop, JAMES, "Hi there", clock)
    listed = owner.get("/inbox/list", params={"folder": "all", "open_id": maria})
    assert listed.status_code == 200 and "<html" not in listed.text
    assert re.search(r'data-folder-count="unread">2<', listed.text)
    assert re.search(r'data-folder-count="all">2<', listed.text)
    assert 'data-unread="2"' in listed.text
    assert re.search(rf'<li class="unread open" data-conversation-id="{maria}">', listed.text)

    receive(session, shop, STRANGER, "Who is this?", clock)
    listed = owner.get("/inbox/list", params={"folder": "unread"})
    newest_first = re.findall(r'data-conversation-id="(\d+)"', listed.text)
    assert len(newest_first) == 3 and 'data-unread="3"' in listed.text
    assert owner.get("/inbox/list", params={"folder": "spam"}).status_code == 400


def test_a_folder_count_past_the_cap_says_so(
    owner: TestClient,
    shop: Shop,
    session: Session,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for phone in (MARIA, JAMES, STRANGER):
        receive(session, shop, phone, "Hello", clock)
    monkeypatch.setattr(queries, "FOLDER_COUNT_CAP", 3)
    listed = owner.get("/inbox/list").text
    assert re.search(r'data-folder-count="all">2\+<', listed)
    assert re.search(r'data-folder-count="read">0<', listed)


def test_the_conversation_page_has_the_list_beside_it_and_the_client_panel(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello", clock)
    james = receive(session, shop, JAMES, "Hi there", clock)
    page = owner.get(f"/conversations/{maria}")
    assert f'data-conversation-id="{james}"' in page.text  # the list
    panel = page.text[page.text.index('id="client-panel"') :]
    assert "+12125550142" in panel and "Subscribed" in panel
    assert "Booking reminders" in panel and f'href="/clients/{shop.clients["Maria"].id}"' in panel

    assert 'id="panel-automated"' not in panel  # none yet
    remind_maria(session, shop, "Reminder: your massage is tomorrow at 3pm", clock)
    receive(session, shop, MARIA, "STOP", clock)
    panel = owner.get(f"/conversations/{maria}").text
    panel = panel[panel.index('id="client-panel"') :]
    assert re.search(r"Unsubscribed</span> on \w+ \d\d?, \d{4}\s+by texting STOP", panel)
    automated = panel[panel.index('id="panel-automated"') :]
    assert "Reminder: your massage is tomorrow" in automated


def remind_maria(session: Session, shop: Shop, body: str, clock: FrozenClock) -> None:
    send_message(
        session,
        shop.setup.business,
        body=body,
        sender=Sender.automated(),
        client=shop.clients["Maria"],
        at=clock.now(),
        category="reminders",
    )
    session.commit()


def test_the_panel_lists_automated_texts_older_than_the_thread_page_shown(
    owner: TestClient,
    shop: Shop,
    session: Session,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The panel takes a thread's automated texts from the page when it holds the whole
    # thread; a longer thread's are read for it.
    monkeypatch.setattr(web_routes, "THREAD_SIZE", 2)
    remind_maria(session, shop, "Reminder: your facial is on Friday", clock)
    for body in ("Thanks", "Can I bring a friend?", "See you then"):
        maria = receive(session, shop, MARIA, body, clock)
    page = owner.get(f"/conversations/{maria}")
    assert "Reminder: your facial" not in thread_of(page)  # not on the thread's page
    automated = page.text[page.text.index('id="panel-automated"') :]
    assert "Reminder: your facial is on Friday" in automated


def results(page: httpx.Response) -> list[str]:
    return re.findall(r'data-client-id="(\d+)"', page.text)


def annas_then_zoe(session: Session, shop: Shop, clock: FrozenClock, annas: int) -> Client:
    """`annas` clients named Anna, then Zoe Zed (+12125550188), the one sought, last by name."""
    for n in range(annas):
        make_client(
            session, shop.setup.business, clock.now(), first_name="Anna", last_name=f"A{n:03}"
        )
    zed = make_client(
        session,
        shop.setup.business,
        clock.now(),
        first_name="Zoe",
        last_name="Zed",
        cell_phone="+12125550188",
    )
    session.commit()
    return zed


def test_new_message_finds_any_client_by_name_or_phone_as_people_write_it(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    zed = annas_then_zoe(session, shop, clock, 505)  # more than a picker's 500
    james = shop.clients["James"].id

    assert results(owner.get("/conversations/new", params={"q": "zoe zed"})) == [str(zed.id)]
    for typed in ("(212) 555-0143", "212-555-0143", "+1 212 555 0143", "0143", "james"):
        assert results(owner.get("/conversations/new", params={"q": typed})) == [str(james)], typed
    many = owner.get("/conversations/new", params={"q": "anna"})
    assert len(results(many)) == 20 and 'id="more-results"' in many.text
    nothing = owner.get("/conversations/new", params={"q": "nobody"})
    assert 'id="no-results"' in nothing.text and results(nothing) == []
    # Each result opens (or starts) the conversation through the profile's Text form.
    assert (
        f'action="/clients/{zed.id}/text"'
        in owner.get("/conversations/new", params={"q": "Zed"}).text
    )


def test_who_is_this_finds_any_client_by_name_or_phone_and_links_them(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    zed = annas_then_zoe(session, shop, clock, 599)  # the 600th, past the old picker's 500
    stranger = receive(session, shop, STRANGER, "Hi, it's Zoe from my work phone", clock)
    path = f"/conversations/{stranger}"

    def choices(page: httpx.Response) -> list[str]:
        return re.findall(r'name="client_id" value="(\d+)"', page.text)

    assert choices(owner.get(path)) == []  # nothing listed until staff search
    for typed in ("zoe zed", "Zed", "(212) 555-0188", "212 555 0188", "+12125550188"):
        found = owner.get(path, params={"who": typed})
        assert choices(found) == [str(zed.id)], typed
        assert 'title="+12125550188">(212) 555-0188</span>' in found.text
    many = owner.get(path, params={"who": "anna"})
    assert len(choices(many)) == 20 and 'id="more-candidates"' in many.text
    nothing = owner.get(path, params={"who": "nobody"})
    assert 'id="no-candidates"' in nothing.text and choices(nothing) == []

    # The search is a plain GET form; linking stays the POST it was.
    found = owner.get(path, params={"who": "zoe zed"})
    assert f'<form method="get" action="{path}" role="search"' in found.text
    linked = owner.post(
        f"{path}/client", data={"client_id": str(zed.id), "csrf": csrf_of(found.text)}
    )
    assert linked.status_code == 200 and "<h1>Zoe Zed</h1>" in linked.text
    session.expire_all()
    conversation = session.get(Conversation, stranger)
    assert conversation is not None and conversation.client_id == zed.id


def test_the_client_panel_switches_a_category_of_automated_texts(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello", clock)
    stranger = receive(session, shop, STRANGER, "Who is this?", clock)
    page = owner.get(f"/conversations/{maria}")
    assert re.search(
        r'value="1" class="switch off" aria-pressed="false"[^>]*data-switch="sms_marketing"',
        page.text,
    )
    token = csrf_of(page.text)

    switched = owner.post(
        f"/conversations/{maria}/switches",
        data={"switch": "sms_marketing", "on": "1", "csrf": token},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == f"/conversations/{maria}"
    session.expire_all()
    client = session.get(Client, shop.clients["Maria"].id)
    assert client is not None and client.sms_marketing and client.sms_reminders
    assert re.search(
        r'class="switch on" aria-pressed="true"[^>]*data-switch="sms_marketing"',
        owner.get(f"/conversations/{maria}").text,
    )

    # A switch that is not one, or a sender who is no client yet: refused, nothing changes.
    for form, where in (
        ({"switch": "first_name", "on": "1"}, maria),
        ({"switch": "sms_account", "on": "0"}, stranger),
    ):
        refused = owner.post(
            f"/conversations/{where}/switches",
            data=form | {"csrf": token},
            headers={"Accept": "text/html"},
        )
        assert refused.status_code == 400
    session.expire_all()
    client = session.get(Client, shop.clients["Maria"].id)
    assert client is not None and client.sms_account


def test_the_inbox_and_a_conversation_read_the_database_a_bounded_number_of_times(
    owner: TestClient, shop: Shop, session: Session, clock: FrozenClock, engine: Engine
) -> None:
    # Each read is a round trip to PostgreSQL: a page that looks up the same rows twice, or
    # one row per listed conversation, grows slower with every one of them.
    for phone in (MARIA, JAMES, STRANGER):
        conversation_id = receive(session, shop, phone, "hello", clock)
        receive(session, shop, phone, "are you open Sunday?", clock)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split())[:100])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert owner.get("/inbox").status_code == 200
        inbox = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        statements.clear()
        assert owner.get(f"/conversations/{conversation_id}").status_code == 200
        thread = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # Sign-in with the business; the page with its capped total, its rows; the counts; the
    # rows' consents and read marks; mentions; plan with usage.
    assert len(inbox) <= 7, "\n".join(inbox)
    # The list's as above, and the thread: messages, the conversation with its client and
    # consent, notes (no text here answers a reminder: no reply targets); the panel's staff
    # and assignment events (its automated texts are among the thread's, all shown).
    assert len(thread) <= 12, "\n".join(thread)
