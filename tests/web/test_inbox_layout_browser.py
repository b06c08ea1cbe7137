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
