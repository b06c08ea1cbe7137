"""The simulated client phone in Chromium: texts from the business and their status reports
arrive live, and a text that cannot go comes back in the page with what was typed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import Live

expect = pytest.importorskip("playwright.sync_api").expect


def _open_phone(live: Live, staff_browser: Any, number: str) -> Any:
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/phone?number={number.replace('+', '%2B')}")
    return page


def test_a_text_from_the_business_and_its_status_arrive_live(
    live: Live, staff_browser: Any
) -> None:
    maria = live.clients["Maria"]
    phone = _open_phone(live, staff_browser, maria.cell_phone or "")
    expect(phone.locator("#phone-thread")).to_contain_text("Nothing between this phone")
    # The page's event stream is open before the text is sent: nothing can slip past it.
    expect(phone.locator("#phone-live")).to_have_attribute("data-connected", "1")

    sent = httpx.post(
        f"{live.url}/api/v1/messages",
        json={"client_id": maria.id, "body": "Your 3pm is confirmed."},
        headers=live.api_auth,
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    bubble = phone.locator("#phone-thread li.msg", has_text="Your 3pm is confirmed.")
    expect(bubble).to_be_visible()  # without a reload
    expect(bubble.locator(".status")).to_have_attribute("data-status", "delivered")
    expect(bubble.locator(".status")).to_have_text("Delivered")


def test_a_text_that_cannot_go_keeps_what_was_typed_and_says_why_in_the_page(
    live: Live, staff_browser: Any
) -> None:
    phone = _open_phone(live, staff_browser, "12")
    phone.fill("#phone-body", "Can I come at 4 instead?")
    phone.click("#phone-form button[type=submit]")
    error = phone.locator("#phone-error")
    expect(error).to_contain_text("is not a valid phone number")
    expect(phone.locator("#phone-body")).to_have_value("Can I come at 4 instead?")
    expect(phone.locator("#phone-body")).to_have_attribute("aria-invalid", "true")
    expect(phone.locator("h1")).to_have_text("Client phone (simulated carrier)")  # the page
