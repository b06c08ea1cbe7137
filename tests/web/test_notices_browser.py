"""Browser notifications, in Chromium: switched on from the top bar (the browser's permission
granted), a client's text is announced with their name while staff are on another page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import TIMEOUT_MS, Live

# The notifications a page made, written into the page (a headless browser shows none).
RECORD = """
window.Notification = class {
  constructor(title, options) {
    var item = document.createElement("li");
    item.className = "test-notice";
    item.dataset.title = title;
    item.textContent = options.body;
    document.body.appendChild(item);
  }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_switched_on_a_client_s_text_is_announced(browser: Any, live: Live) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD)
    try:
        page = context.new_page()
        live.login(page)
        page.goto(f"{live.url}/clients")
        toggle = page.locator("#notify-toggle")
        expect(toggle).to_have_text("Notify me of new texts")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")

        live.text_from("+12125550142", "Can I bring a friend?")
        notice = page.locator("li.test-notice")
        expect(notice).to_have_count(1)
        expect(notice).to_have_text("Can I bring a friend?")
        assert notice.get_attribute("data-title") in ("Maria Lopez", "+12125550142")

        toggle.click()  # off again: nothing more is announced
        expect(toggle).to_have_attribute("aria-pressed", "false")
    finally:
        context.close()
