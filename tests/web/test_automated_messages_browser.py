"""Settings → Automated messages in a real browser (Debian's chromium through Playwright, under
the app's strict Content-Security-Policy): the variable picker inserts at the cursor, and the
preview, the counter and the UCS-2 warning follow what is typed; a save keeps it.

The app runs on a real port (uvicorn in a thread) over a database whose units of work really
commit; the tables are emptied afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from messagecenter.app import create_app
from messagecenter.config import Settings
from messagecenter.context import build_context
from messagecenter.db import session_scope
from messagecenter.staff.service import list_staff
from tests import live_server
from tests.conftest import empty_all_tables
from tests.factories import make_business
from tests.web.test_automated_messages import PATH

expect = pytest.importorskip("playwright.sync_api").expect


@dataclass
class Site:
    url: str
    email: str
    password: str


@pytest.fixture
def site(settings: Settings, engine: Engine) -> Iterator[Site]:
    """A business named with a non-GSM letter (so [BusinessName] forces UCS-2), served."""
    port = live_server.free_port()
    url = f"http://127.0.0.1:{port}"
    context = build_context(settings.model_copy(update={"public_url": url}), engine=engine)
    try:
        with session_scope(context.sessions) as session:
            setup = make_business(session, context.carrier, context.clock.now())
            setup.business.name = "Zoë Studio"
            (email,) = [m.email for m in list_staff(session, setup.business.id)]
            seeded = Site(url, email, setup.owner_password)
        with live_server.serve(create_app(context=context, run_dispatcher=False), port):
            yield seeded
    finally:
        empty_all_tables(engine)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
    opened.goto(f"{site.url}/login")
    opened.fill("#email", site.email)
    opened.fill("#password", site.password)
    opened.click("form[action='/login'] button[type=submit]")
    expect(opened).to_have_url(f"{site.url}/inbox")
    yield opened
    context.close()
    assert errors == []  # nothing the CSP blocked, no script error


def test_the_picker_inserts_at_the_cursor_and_the_preview_follows(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/settings")
    page.click(f"a[href='{PATH}']")
    card = page.locator("#template-welcome")
    body = card.locator("textarea[name=body]")
    # On load the server's preview: the business's ë forces UCS-2, and the page says so.
    expect(card.locator("[data-preview]")).to_contain_text("Welcome to Zoë Studio, Maria!")
    expect(card.locator("[data-ucs2-warning]")).to_be_visible()
    expect(card.locator("[data-counter]")).to_have_attribute("data-encoding", "UCS-2")

    body.fill("Hi , see you soon")
    body.evaluate("el => el.setSelectionRange(3, 3)")  # the cursor after "Hi "
    card.locator("[data-insert-variable=Firstname]").click()
    expect(body).to_have_value("Hi [Firstname], see you soon")
    expect(card.locator("[data-preview]")).to_have_text("Hi Maria, see you soon")
    # No [BusinessName] any more: GSM-7, the warning gone.
    expect(card.locator("[data-ucs2-warning]")).to_be_hidden()
    expect(card.locator("[data-counter]")).to_have_text(
        "22 characters · 1 segment · GSM-7 · 1 unit"
    )

    body.fill("Hi [Firstname] " + "x" * 160)
    expect(card.locator("[data-counter]")).to_have_attribute("data-segments", "2")
    body.fill("Hi [Nickname]")
    expect(card.locator("[data-preview-error]")).to_contain_text("[Nickname] is not a variable")

    body.fill("[BusinessName]: hello [Firstname]")
    card.locator("button[value=save]").click()
    expect(page.locator("[data-flash=note]")).to_have_text("Welcome saved.")
    expect(page.locator("#template-welcome textarea")).to_have_value(
        "[BusinessName]: hello [Firstname]"
    )
