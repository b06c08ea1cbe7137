"""The staff web app in a real browser (Debian's chromium through Playwright).

The app runs on a real port with its background worker and the real clock, so what the page
shows live (the unread badge, delivery statuses, the composer's lock) arrives the way it does
in production: by the server-sent event stream, without reloading the page.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from messagecenter.db import session_scope
from messagecenter.models import Conversation, SmsNumber
from messagecenter.sms.segments import count_segments
from tests.factories import text_from
from tests.web.conftest import TIMEOUT_MS, Live

VECTORS = Path(__file__).parent.parent / "sms" / "segment_vectors.json"
MAX_TEXTAREA = 3200  # the composer's maxlength (twice the 1600-character limit)
NOT_RELOADED = "window.__stillTheSamePage === true"


def mark_page(page: Any) -> None:
    """Leave a mark in the page's JavaScript world: gone if the page reloads."""
    page.evaluate("window.__stillTheSamePage = true")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate(NOT_RELOADED), "the page reloaded"


def seed_text(live: Live, phone: str, body: str) -> int:
    """A client's text stored before the test looks (no page open yet); its conversation id."""
    with session_scope(live.context.sessions) as session:
        number = session.scalars(
            select(SmsNumber).where(SmsNumber.phone_number == live.sms_number)
        ).one()
        text_from(session, number, phone, body, live.context.clock.now())
    return live.conversation_id(phone)


# ---------------------------------------------------------------------------- sign-in


def test_login_through_the_form_and_the_home_redirects(live: Live, staff_browser: Any) -> None:
    page = staff_browser.new_page()
    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/login")

    page.fill("#email", live.owner_email)
    page.fill("#password", "not the password")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("do not match")
    expect(page).to_have_url(f"{live.url}/login")

    page.fill("#password", live.owner_password)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(f"{live.url}/inbox")
    expect(page.locator("#unread-badge")).to_have_text("0")

    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/inbox")

    page.click("button:has-text('Sign out')")
    expect(page).to_have_url(f"{live.url}/login")
    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/login")


# ---------------------------------------------------------------------------- live badge


def test_a_text_updates_the_message_badge_in_two_tabs_without_a_reload(
    live: Live, staff_browser: Any
) -> None:
    first = staff_browser.new_page()
    live.login(first)
    second = staff_browser.new_page()
    second.goto(f"{live.url}/inbox")
    for tab in (first, second):
        expect(tab.locator("#unread-badge")).to_have_text("0")
        mark_page(tab)

    live.text_from(live.clients["Maria"].cell_phone or "", "Hi! Can I move my 3pm massage to 4?")
    for tab in (first, second):
        expect(tab.locator("#unread-badge")).to_have_text("1")
    # Both streams are certainly open now: the next text can only arrive live.
    live.text_from("+12125550199", "Do you have yoga classes on Sunday?")
    for tab in (first, second):
        expect(tab.locator("#unread-badge")).to_have_text("2")
        expect(tab.locator(".message-button")).to_have_attribute("aria-label", "Messages: 2 unread")
        assert_not_reloaded(tab)


def test_opening_a_conversation_reads_it_through_the_pages_post(
    live: Live, staff_browser: Any
) -> None:
    conversation_id = seed_text(live, "+12125550142", "Is my 3pm still on?")
    page = staff_browser.new_page()
    live.login(page)
    expect(page.locator("#unread-badge")).to_have_text("1")

    # The GET shows the page; its script posts /read, whose answer lowers the badge.
    with page.expect_response(f"{live.url}/conversations/{conversation_id}/read") as answer:
        page.goto(f"{live.url}/conversations/{conversation_id}")
    assert answer.value.request.method == "POST" and answer.value.json() == {"unread": 0}
    expect(page.locator("#unread-badge")).to_have_text("0")
    with session_scope(live.context.sessions) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert (conversation.folder, conversation.unread_count) == ("read", 0)


# ---------------------------------------------------------------------------- statuses


def test_a_reply_reaches_delivered_and_the_answer_appears_without_a_reload(
    live: Live, staff_browser: Any
) -> None:
    conversation_id = seed_text(live, "+12125550142", "Is my 3pm still on?")
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{conversation_id}")
    page.fill("#body", "Yes, see you at 3!")
    expect(page.locator("#send")).to_be_enabled()
    with page.expect_navigation():  # the form posts, then comes back to the conversation
        page.click("#send")

    expect(page).to_have_url(f"{live.url}/conversations/{conversation_id}")
    mine = page.locator("li.msg.outbound.staff", has_text="Yes, see you at 3!")
    expect(mine).to_have_count(1)
    mark_page(page)
    status = mine.locator(".status")
    expect(status).to_have_attribute("data-status", "delivered")
    expect(status).to_have_text("Delivered")

    # The client answers: the open thread shows it, and since it is seen, nothing is unread.
    live.text_from("+12125550142", "Great, thanks!")
    expect(page.locator("#thread li.msg.inbound").last).to_contain_text("Great, thanks!")
    expect(page.locator("#unread-badge")).to_have_text("0")
    assert_not_reloaded(page)


# ---------------------------------------------------------------------------- opting out


def test_stop_from_the_client_phone_locks_the_composer_in_another_tab(
    live: Live, staff_browser: Any
) -> None:
    phone = live.clients["James"].cell_phone or ""
    conversation_id = seed_text(live, phone, "Thanks for the reminder")
    conversation = staff_browser.new_page()
    live.login(conversation)
    conversation.goto(f"{live.url}/conversations/{conversation_id}")
    expect(conversation.locator("#send")).to_be_disabled()  # nothing typed yet
    conversation.fill("#body", "Shall I book you in for next week?")
    expect(conversation.locator("#send")).to_be_enabled()
    expect(conversation.locator("#unsubscribed-note")).to_have_count(0)

    handset = staff_browser.new_page()
    handset.goto(f"{live.url}/phone?number=%2B{phone.lstrip('+')}")
    handset.fill("#phone-body", "STOP")
    handset.click("#phone-form button[type=submit]")
    expect(handset.locator("#phone-thread")).to_contain_text("STOP")

    # The conversation tab hears consent.changed and takes the composer's lock from the server.
    expect(conversation.locator("#unsubscribed-note")).to_contain_text("STOP")
    expect(conversation.locator("#send")).to_be_disabled()
    expect(conversation.locator("#body")).to_be_disabled()
    expect(conversation.locator("#thread")).to_contain_text("Automatic reply from the carrier")


# ---------------------------------------------------------------------------- layout


def test_a_one_line_text_has_a_one_line_bubble(live: Live, staff_browser: Any) -> None:
    """The bubble keeps the message's own line breaks, not the template's indentation."""
    conversation_id = seed_text(live, "+12125550142", "See you at 4")
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{conversation_id}")
    bubble, text = page.evaluate(
        """() => {
            const bubble = document.querySelector('#thread li.msg.inbound .bubble');
            const text = bubble.querySelector('p');
            return [bubble.getBoundingClientRect().height, text.getBoundingClientRect().height];
        }"""
    )
    assert bubble <= text + 24  # the text, its padding (8 px top and bottom) and border


# ---------------------------------------------------------------------------- the counter


def open_composer(live: Live, staff_browser: Any) -> Any:
    conversation_id = seed_text(live, "+12125550144", "Hello")
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/conversations/{conversation_id}")
    expect(page.locator("#counter")).to_have_attribute("data-segments", "1")
    return page


def count_on_page(page: Any, text: str) -> None:
    """Put `text` in the composer, wiping the counter's last answer first, so that waiting
    for its data attributes waits for the server's answer about this text."""
    page.evaluate(
        "() => { const c = document.getElementById('counter');"
        " delete c.dataset.segments; delete c.dataset.encoding; }"
    )
    page.fill("#body", text)


def test_the_counter_shows_two_segments_for_161_gsm_characters_and_ucs2_for_an_emoji(
    live: Live, staff_browser: Any
) -> None:
    page = open_composer(live, staff_browser)
    counter = page.locator("#counter")
    count_on_page(page, "a" * 160)
    expect(counter).to_have_attribute("data-segments", "1")
    count_on_page(page, "a" * 161)
    expect(counter).to_have_attribute("data-segments", "2")
    expect(counter).to_have_attribute("data-encoding", "GSM-7")
    # In plain words, with the segments and encoding in the details.
    expect(counter).to_have_text("2 texts, joined on the phone · uses 1 of your 100 this month")
    expect(page.locator("#counter-details")).to_contain_text("161 characters · 2 segments · GSM-7")

    page.locator("#body").press_sequentially("🙂")
    expect(counter).to_have_attribute("data-encoding", "UCS-2")
    expected = count_segments("a" * 161 + "🙂")
    expect(counter).to_have_attribute("data-segments", str(expected.segments))
    expect(counter).to_contain_text("because of 🙂")


def test_the_composer_says_which_rule_a_text_breaks_as_staff_type(
    live: Live, staff_browser: Any
) -> None:
    page = open_composer(live, staff_browser)
    refusal, send = page.locator("#content-refused"), page.locator("#send")
    count_on_page(page, "Book online: bit.ly/spa")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("link shorteners")
    expect(refusal.locator("a")).to_have_attribute("href", re.compile(r"^https://"))
    expect(send).to_be_disabled()
    count_on_page(page, "Book online at our site")
    expect(refusal).to_be_hidden()
    expect(send).to_be_enabled()


def _typable(text: str) -> bool:
    """Whether a textarea holds `text` verbatim: no lone surrogate (not a character a page can
    be given), no lone CR (a textarea turns it into LF), no NUL, within the maxlength."""
    try:
        units = len(text.encode("utf-16-le")) // 2
    except UnicodeEncodeError:
        return False
    return "\r" not in text.replace("\r\n", "") and "\x00" not in text and units <= MAX_TEXTAREA


def _vector_sample(size: int = 15) -> list[dict[str, Any]]:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    usable = [v for v in vectors if _typable(v["text"])]
    return random.Random(20261116).sample(usable, size)


def test_the_page_and_the_server_agree_on_the_segment_vectors(
    live: Live, staff_browser: Any
) -> None:
    page = open_composer(live, staff_browser)
    counter = page.locator("#counter")
    sample = _vector_sample()
    assert len({v["encoding"] for v in sample}) == 2  # both encodings are in the sample
    for vector in sample:
        count_on_page(page, vector["text"])
        assert page.input_value("#body") == vector["text"].replace("\r\n", "\n"), vector["name"]
        expect(counter).to_have_attribute("data-segments", str(vector["segments"]))
        expect(counter).to_have_attribute("data-encoding", vector["encoding"])


# ---------------------------------------------------------------------------- phone size, keyboard


def test_phone_sized_screen_has_no_sideways_scrolling_and_the_composer_works_by_keyboard(
    live: Live, browser: Any
) -> None:
    for first, phone in (("Maria", "+12125550142"), ("James", "+12125550143")):
        seed_text(live, phone, f"Hi, it's {first}. " + "A rather long message to preview " * 4)
    conversation_id = seed_text(
        live, "+12125550199", "Unidentified-sender-with-a-very-long-unbroken-word-in-the-preview"
    )
    small = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    small.set_default_timeout(TIMEOUT_MS)
    try:
        page = small.new_page()
        live.login(page)
        expect(page.locator("#conversation-list li")).to_have_count(3)
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")

        page.goto(f"{live.url}/conversations/{conversation_id}")
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        for _ in range(40):  # Tab through the page's controls until the composer has focus
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "body":
                break
        expect(page.locator("#body")).to_be_focused()
        page.keyboard.type("Sent from the keyboard")
        expect(page.locator("#send")).to_be_enabled()
        page.keyboard.press("Tab")
        expect(page.locator("#send")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("li.msg.outbound.staff")).to_contain_text("Sent from the keyboard")
    finally:
        small.close()


@pytest.fixture(autouse=True)
def _browser_needed(browser: Any) -> None:
    """Every test here needs chromium (skipped with the reason when it is missing)."""


# ---------------------------------------------------------------------------- the policy


def test_pages_break_no_rule_of_the_content_security_policy(live: Live, staff_browser: Any) -> None:
    """Every page works under the policy: the browser reports no blocked script, style or
    frame, and the usage meter (sized from app.js, not an inline style) shows its share."""
    conversation_id = seed_text(live, "+12125550142", "Hello")
    page = staff_browser.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    live.login(page)
    for path in ("/inbox", f"/conversations/{conversation_id}", "/clients", "/history", "/usage"):
        page.goto(f"{live.url}{path}")
        page.wait_for_load_state("load")
    meter = page.locator(".meter span")
    assert meter.evaluate("el => el.style.width") == meter.get_attribute("data-width") + "%"
    assert refused == []
