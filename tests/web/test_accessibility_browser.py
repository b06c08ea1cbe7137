"""The main pages checked with axe-core (the axe-playwright-python package) in Chromium, at
desktop and phone sizes: no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.web.conftest import TIMEOUT_MS, Live
from tests.web.test_browser import seed_text

PAGES = [
    "/inbox",
    "/conversations/{maria}",
    "/conversations/{stranger}?who=a",  # "Who is this?" with its matches to link
    "/conversations/new",
    "/clients",
    "/history",
    "/usage",
    "/bulk-sends",
    "/settings",
    "/settings/automated-messages",
    "/settings/business-hours",
    "/settings/saved-replies",
    "/staff",
    "/policies",
]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", list(SIZES))
def test_the_main_pages_have_no_serious_or_critical_violations(
    browser: Any, live: Live, size: str
) -> None:
    maria = seed_text(live, "+12125550142", "Hello, is there parking?")
    stranger = seed_text(live, "+12125550199", "Who is this?")
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone")
    context.set_default_timeout(TIMEOUT_MS)
    axe = Axe()
    found: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        page.goto(f"{live.url}/login")
        found["/login"] = _serious(axe.run(page).response)
        live.login(page)
        for path in PAGES:
            page.goto(live.url + path.format(maria=maria, stranger=stranger))
            found[path] = _serious(axe.run(page).response)
    finally:
        context.close()
    assert {path: problems for path, problems in found.items() if problems} == {}


def test_the_check_finds_a_violation_where_there_is_one(browser: Any) -> None:
    """The checker itself works: an image with no text is a critical violation."""
    page = browser.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><main><img src="x.png"></main></html>')
        assert any(p.startswith("image-alt") for p in _serious(Axe().run(page).response))
    finally:
        page.close()


def _serious(response: dict[str, Any]) -> list[str]:
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
        for v in response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
