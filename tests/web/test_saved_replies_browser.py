"""Saved replies in the composer, in a real browser: "/" and a name's first letters list
them filled in for this client, Enter puts the text in place of "/name"; the button lists
them all and a click inserts at the cursor."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from messagecenter.db import session_scope
from messagecenter.models import Business
from messagecenter.saved_replies import service
from tests.web.conftest import TIMEOUT_MS, Live
from tests.web.test_browser import seed_text


def test_slash_and_the_picker_insert_a_reply_filled_in_for_the_client(
    browser: Any, live: Live
) -> None:
    with session_scope(live.context.sessions) as session:
        business = session.get_one(Business, live.business_id)
        at = live.context.clock.now()
        service.save_reply(
            session, business, name="parking", body="Park behind the studio, [Firstname].", at=at
        )
        service.save_reply(
            session, business, name="prices", body="Our prices: studio.example/prices", at=at
        )
    maria = seed_text(live, "+12125550142", "Where do I park?")
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        live.login(page)
        page.goto(f"{live.url}/conversations/{maria}")
        body = page.locator("#body")

        body.press_sequentially("Hi! /pa")
        options = page.locator("#saved-reply-list [role=option]")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("Park behind the studio, Maria.")
        body.press("Enter")
        expect(body).to_have_value("Hi! Park behind the studio, Maria.")
        expect(page.locator("#saved-reply-list")).to_be_hidden()

        page.click("#saved-replies-button")
        expect(options).to_have_count(2)
        page.locator("#saved-reply-option-prices").click()
        expect(body).to_have_value(
            "Hi! Park behind the studio, Maria.Our prices: studio.example/prices"
        )
    finally:
        context.close()
