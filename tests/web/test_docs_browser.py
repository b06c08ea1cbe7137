"""/docs in Chromium with every outside host unreachable: the API's operations still show,
from the app's own files (http/docs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Live

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.mark.parametrize(("path", "shown"), [("/docs", ".opblock-summary-path"),
                                             ("/redoc", "h1")])  # fmt: skip
def test_the_docs_render_with_no_outside_network(
    live: Live, staff_browser: Any, path: str, shown: str
) -> None:
    outside: list[str] = []

    def only_the_app(route: Any) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    staff_browser.route("**/*", only_the_app)
    page = staff_browser.new_page()
    page.goto(f"{live.url}{path}")
    if path == "/docs":
        expect(page.locator(shown, has_text="/api/v1/messages").first).to_be_visible()
    else:
        expect(page.locator(shown).first).to_contain_text("Message Center")
    assert outside == []
