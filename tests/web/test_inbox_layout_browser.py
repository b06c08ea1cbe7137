"""The inbox as staff use it, in a real browser at desktop (1280 px) and phone (390 px) sizes:
threads open at their newest message and load earlier ones as staff scroll up; two panes and a
client panel from 1,024 px, one pane at a time on a phone; a live conversation list; the
composer's keyboard, draft and plain words; New message's client search."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from messagecenter.db import session_scope
from messagecenter.models import SmsNumber
from tests.factories import text_from
from tests.web.conftest import TIMEOUT_MS, Live

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = pytest.mark.parametrize("size", ["desktop", "phone"])
SHOTS = os.environ.get("MESSAGECENTER_TEST_SCREENSHOTS")  # a folder: pages are saved there


@pytest.fixture
def sized(browser: Any, live: Live, size: str) -> Iterator[Any]:
    """A browser context of the size the test is parametrized with."""
    phone = size == "phone"
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP, is_mobile=phone, has_touch=phone
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


def seed_texts(live: Live, phone: str, bodies: list[str]) -> int:
    """Texts from `phone`, a second apart and stored before any page opens; the
    conversation's id."""
    with session_scope(live.context.sessions) as session:
        number = session.scalars(
            select(SmsNumber).where(SmsNumber.phone_number == live.sms_number)
        ).one()
        start = live.context.clock.now() - timedelta(seconds=len(bodies))
        for n, body in enumerate(bodies):
            text_from(session, number, phone, body, start + timedelta(seconds=n))
    return live.conversation_id(phone)


def no_sideways_scrolling(page: Any) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


# ---------------------------------------------------------------------------- the thread


@SIZES
def test_a_long_thread_opens_at_its_newest_and_loads_earlier_messages_as_staff_scroll_up(
    live: Live, sized: Any, size: str
) -> None:
    maria = seed_texts(live, "+12125550142", [f"Text number {n}" for n in range(120)])
    page = sized.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{maria}")
    thread = page.locator("#thread")
    newest = thread.locator("li.msg").last
    expect(newest).to_contain_text("Text number 119")
    expect(newest).to_be_in_viewport()
    expect(page.locator("#body")).to_be_in_viewport()  # the composer, without scrolling
    expect(thread.locator("li.msg")).to_have_count(50)  # a page, not the whole thread
    shot(page, f"thread-{size}")

    scroller = page.locator("#thread-scroll")
    scroller.evaluate("el => { el.scrollTop = 0; }")
    expect(thread.locator("li.msg")).to_have_count(100)
    # Staff stay where they were: the message that was at the top is still in view.
    expect(
        page.locator("#thread li.msg", has_text=re.compile(r"Text number 70\b"))
    ).to_be_in_viewport()
    scroller.evaluate("el => { el.scrollTop = 0; }")
    expect(thread.locator("li.msg")).to_have_count(120)
    expect(thread.locator("li.msg").first).to_contain_text("Text number 0")
    expect(page.locator("#earlier")).to_be_hidden()  # the thread's start
    texts = thread.locator("li.msg .bubble p").all_inner_texts()
    assert texts == [f"Text number {n}" for n in range(120)]  # in order, none twice


# ---------------------------------------------------------------------------- the panes


def test_from_1024_px_the_list_thread_and_client_panel_stand_side_by_side(
    live: Live, browser: Any
) -> None:
    maria = seed_texts(live, "+12125550142", ["Can I move my 3pm?"])
    james = seed_texts(live, "+12125550143", ["Running late"])
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        live.login(page)
        page.goto(f"{live.url}/conversations/{maria}")
        lists, thread, panel = (
            page.locator(".list-pane"),
            page.locator("article.conversation"),
            page.locator("#client-panel"),
        )
        for pane in (lists, thread, panel):
            expect(pane).to_be_visible()
        left, middle, right = (p.bounding_box() for p in (lists, thread, panel))
        assert (
            left["x"] + left["width"] <= middle["x"] and middle["x"] + middle["width"] <= right["x"]
        )
        expect(panel).to_contain_text("(212) 555-0142")
        expect(panel.locator("#panel-subscription")).to_have_text("Subscribed")
        expect(panel.locator("#panel-switches")).to_contain_text("Booking reminders")
        expect(panel.locator("#panel-profile")).to_have_attribute(
            "href", f"/clients/{live.clients['Maria'].id}"
        )
        marketing = panel.locator("[data-switch='sms_marketing']")
        expect(marketing).to_have_attribute("aria-pressed", "false")
        marketing.click()
        expect(panel.locator("[data-switch='sms_marketing']")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page).to_have_url(f"{live.url}/conversations/{maria}")
        expect(page.locator("#back-to-list")).to_be_hidden()
        expect(page.locator("#menu-button")).to_be_hidden()
        expect(page.locator("#main-menu a[href='/clients']")).to_be_visible()
        shot(page, "panes-desktop")

        # Each conversation has its own address; back and forward go between them. The list
        # stays: the conversation beside it is swapped without loading the page again.
        page.fill("#body", "A draft for Maria")
        page.evaluate("window.__stillTheSamePage = true")
        page.locator(f"#conversation-list li[data-conversation-id='{james}'] a").click()
        expect(page).to_have_url(f"{live.url}/conversations/{james}")
        expect(page.locator("article.conversation h1")).to_have_text("James Chen")
        expect(page.locator("#conversation-list li.open")).to_have_attribute(
            "data-conversation-id", str(james)
        )
        page.go_back()
        expect(page).to_have_url(f"{live.url}/conversations/{maria}")
        expect(page.locator("article.conversation h1")).to_have_text("Maria Lopez")
        expect(page.locator("#body")).to_have_value("A draft for Maria")
        expect(panel).to_contain_text("(212) 555-0142")
        page.go_forward()
        expect(page.locator("article.conversation h1")).to_have_text("James Chen")
        expect(panel).to_contain_text("(212) 555-0143")
        expect(page).to_have_title(re.compile("^James Chen"))
        assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"
        # A reload shows the same conversation, from its own address.
        page.reload()
        expect(page.locator("article.conversation h1")).to_have_text("James Chen")
    finally:
        context.close()


def test_on_a_phone_one_pane_at_a_time_a_folded_menu_and_tables_as_cards(
    live: Live, browser: Any
) -> None:
    maria = seed_texts(live, "+12125550142", ["Can I move my 3pm?"])
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        live.login(page)
        # The inbox: the list alone; the menu folded behind its button, the badge in view.
        expect(page.locator("#conversation-list li")).to_have_count(1)
        expect(page.locator(".thread-pane.placeholder")).to_be_hidden()
        menu, button = page.locator("#main-menu"), page.locator("#menu-button")
        expect(menu).to_be_hidden()
        expect(page.locator("#unread-badge")).to_be_visible()
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")
        expect(menu.locator("a[href='/clients']")).to_be_visible()
        button.click()
        expect(menu).to_be_hidden()
        shot(page, "inbox-phone")

        # A conversation: the thread alone, with a way back; the composer at the foot.
        page.locator("#conversation-list li a").first.click()
        expect(page).to_have_url(f"{live.url}/conversations/{maria}")
        expect(page.locator(".list-pane")).to_be_hidden()
        expect(page.locator("#body")).to_be_in_viewport()
        composer = page.locator(".composer").bounding_box()
        assert composer["y"] + composer["height"] == pytest.approx(PHONE["height"], abs=1)
        assert no_sideways_scrolling(page)
        page.locator("#back-to-list").click()
        expect(page).to_have_url(f"{live.url}/inbox")

        # A report's table: a card per row, each value labelled with its column.
        page.goto(f"{live.url}/history")
        first_cell = page.locator("table.report tbody tr").first.locator("td").first
        expect(first_cell).to_have_attribute("data-label", re.compile(r"\w"))
        assert first_cell.evaluate("td => getComputedStyle(td).display") == "block"
        assert no_sideways_scrolling(page)
        shot(page, "history-phone")
    finally:
        context.close()


def test_the_list_beside_a_conversation_is_the_folder_staff_came_from(
    live: Live, staff_browser: Any
) -> None:
    seed_texts(live, "+12125550142", ["Hello"])
    james = seed_texts(live, "+12125550143", ["Running late"])
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/inbox?folder=unread&q=james")
    expect(page.locator("#conversation-list li")).to_have_count(1)
    page.locator("#conversation-list li a").click()
    expect(page).to_have_url(f"{live.url}/conversations/{james}")
    expect(page.locator(".folders a[aria-current='page']")).to_contain_text("Unread")
    expect(page.locator("#list-filters")).to_have_attribute(
        "href", re.compile(r"folder=unread&q=james")
    )


# ---------------------------------------------------------------------------- live list


@SIZES
def test_the_list_is_live_new_conversations_appear_and_texts_reorder_it(
    live: Live, sized: Any, size: str
) -> None:
    maria = seed_texts(live, "+12125550142", ["First"])
    james = seed_texts(live, "+12125550143", ["Second"])
    page = sized.new_page()
    live.login(page)
    rows = page.locator("#conversation-list li")
    expect(rows).to_have_count(2)
    page.evaluate("window.__stillTheSamePage = true")
    expect(page.locator("[data-folder-count='unread']")).to_have_text("2")

    live.text_from("+12125550199", "Do you have yoga on Sunday?")  # a new conversation
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Do you have yoga on Sunday?")
    # The folder count and the badge move together.
    expect(page.locator("[data-folder-count='unread']")).to_have_text("3")
    expect(page.locator("#unread-badge")).to_have_text("3")

    live.text_from("+12125550142", "Actually, 4pm?")  # Maria's moves to the top
    expect(rows.first).to_have_attribute("data-conversation-id", str(maria))
    expect(rows.nth(1)).to_contain_text("yoga")
    expect(rows.nth(2)).to_have_attribute("data-conversation-id", str(james))
    expect(page.locator("#unread-badge")).to_have_text("4")
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"


@SIZES
def test_the_open_thread_gets_new_texts_and_status_ticks_live(
    live: Live, sized: Any, size: str
) -> None:
    maria = seed_texts(live, "+12125550142", [f"Text number {n}" for n in range(60)])
    page = sized.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{maria}")
    expect(page.locator("#unread-badge")).to_have_text("0")
    live.text_from("+12125550142", "One more thing")
    newest = page.locator("#thread li.msg").last
    expect(newest).to_contain_text("One more thing")
    expect(newest).to_be_in_viewport()  # staff were at the bottom: it scrolls into view
    expect(page.locator("#thread li.msg")).to_have_count(51)  # appended; nothing reloaded
    expect(page.locator("#thread-news")).to_have_text("New text: One more thing")
    expect(page.locator("#conversation-list li.open")).to_contain_text("One more thing")
    expect(page.locator("#unread-badge")).to_have_text("0")  # seen, so read

    # A reply's status ticks from Queued to Delivered in place (the simulated carrier).
    page.fill("#body", "Sure, what is it?")
    page.locator("#body").press("Control+Enter")
    reply = page.locator("#thread li.msg.outbound").last
    expect(reply).to_contain_text("Sure, what is it?")
    page.evaluate("window.__stillTheSamePage = true")
    expect(reply.locator(".status")).to_have_attribute("data-status", "delivered")
    expect(reply.locator(".status")).to_have_text("Delivered")
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"


# ---------------------------------------------------------------------------- composer


@SIZES
def test_ctrl_enter_sends_a_draft_survives_switching_and_focus_returns_to_the_text_box(
    live: Live, sized: Any, size: str
) -> None:
    maria = seed_texts(live, "+12125550142", ["Hi"])
    james = seed_texts(live, "+12125550143", ["Hello"])
    page = sized.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{maria}")
    page.fill("#body", "Half-written reply to Maria")
    page.goto(f"{live.url}/conversations/{james}")
    expect(page.locator("#body")).to_have_value("")  # a draft is per conversation
    page.go_back()
    expect(page).to_have_url(f"{live.url}/conversations/{maria}")
    expect(page.locator("#body")).to_have_value("Half-written reply to Maria")

    page.fill("#body", "See you at 4")
    expect(page.locator("#send")).to_be_enabled()
    page.locator("#body").press("Control+Enter")
    expect(page.locator("#thread li.msg.outbound").last).to_contain_text("See you at 4")
    expect(page.locator("#body")).to_be_focused()
    expect(page.locator("#body")).to_have_value("")  # the draft went with the text
    page.fill("#body", "Thanks!")
    page.locator("#body").press("Meta+Enter")
    expect(page.locator("#thread li.msg.outbound").last).to_contain_text("Thanks!")
    shot(page, f"composer-{size}")


def test_the_composer_speaks_plainly_and_names_the_character_that_makes_it_longer(
    live: Live, staff_browser: Any
) -> None:
    maria = seed_texts(live, "+12125550142", ["Hi"])
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{maria}")
    counter = page.locator("#counter")
    page.fill("#body", "See you at 4")
    expect(counter).to_have_text("1 text · uses 1 of your 100 this month")
    page.fill("#body", "See you at 4 🙂")
    expect(counter).to_have_text(
        "1 text · uses 1 of your 100 this month · 🙂 lets 70 characters fit in a text, not 160"
    )
    page.fill("#body", "a" * 70 + "🙂")
    expect(counter).to_have_text(
        "2 texts, joined on the phone · uses 1 of your 100 this month · longer (because of 🙂)"
    )
    details = page.locator("#counter-details")
    expect(details).to_be_hidden()  # segments and encoding when staff ask
    page.locator(".counter-details summary").click()
    expect(details).to_contain_text("71 characters · 2 segments · UCS-2")


# ---------------------------------------------------------------------------- new message


@SIZES
def test_new_message_finds_a_client_and_opens_their_conversation(
    live: Live, sized: Any, size: str
) -> None:
    page = sized.new_page()
    live.login(page)
    page.locator("#new-message").click()
    expect(page).to_have_url(f"{live.url}/conversations/new")
    page.fill("#client-search", "(212) 555-0143")
    page.keyboard.press("Enter")
    results = page.locator("#client-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("James Chen")
    shot(page, f"new-message-{size}")
    results.first.locator("button").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+$"))
    expect(page.locator("article.conversation h1")).to_have_text("James Chen")
    expect(page.locator("#body")).to_be_enabled()
