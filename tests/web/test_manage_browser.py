"""The owner's pages in a real browser (Debian's chromium through Playwright): a landline
refused as the owner types and saves, the SMS history filtered and downloaded as CSV,
Message Center turned on and the number changed after the warning, an API key revoked.

The app runs on a real port (uvicorn in a thread) over a database whose units of work really
commit; the tables are emptied afterwards. The outbox dispatcher is not run, so the statuses in
the history stay as seeded while the test compares the table with its CSV.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select

from messagecenter.app import create_app
from messagecenter.businesses.queries import active_number
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.http.readable import phone_text
from messagecenter.models import ApiKey, Client, SmsNumber
from messagecenter.numbers.service import enable_messaging, suggest_numbers
from messagecenter.sending.compose import Sender, send_message
from messagecenter.staff.service import list_staff
from tests import live_server
from tests.conftest import empty_all_tables
from tests.factories import make_client, text_from

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="browser tests skipped: Debian's chromium is not installed at /usr/bin/chromium "
    "(apt-get install chromium)",
)
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "owner-password-1"
TIMEOUT_MS = 10_000
MARIA, JAMES, STRANGER = "+12125550142", "+12125550143", "+12125550199"


@dataclass
class Site:
    url: str
    context: AppContext
    ids: dict[str, int]  # business and client ids by name

    def login(self, page: Any, email: str) -> None:
        page.goto(f"{self.url}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(f"{self.url}/inbox")


def _business(session: Any, name: str, country: str, timezone: str, phone: str, email: str) -> Any:
    return create_business(
        session,
        NewBusiness(
            name=name, country=country, timezone=timezone, business_phone=phone,
            monthly_allowance=500, overage_policy="allow_overage",
            overage_price_per_unit=Decimal("0.05"), owner_email=email,
        ),
        datetime.now(UTC),
        owner_password=PASSWORD,
    ).business  # fmt: skip


def _seed(context: AppContext, public_url: str) -> dict[str, int]:
    now = datetime.now(UTC)
    with session_scope(context.sessions) as session:
        # A salon in London: UK landlines cannot take texts.
        london = _business(
            session, "Mayfair Spa", "GB", "Europe/London", "+442079460001", "owner@mayfair.example"
        )
        pat = make_client(
            session, london, now, first_name="Pat", last_name="Lee", cell_phone="07911 123456"
        )
        # A studio in New York with a week of texts.
        studio = _business(
            session, "Sunrise Yoga", "US", "America/New_York", "+12125550100",
            "owner@sunrise.example",
        )  # fmt: skip
        number = enable_messaging(
            session, studio, context.carrier,
            suggest_numbers(session, studio, context.carrier)[0], public_url, now,
        )  # fmt: skip
        owner = list_staff(session, studio.id)[0]
        maria = make_client(session, studio, now, first_name="Maria", cell_phone=MARIA)
        james = make_client(
            session, studio, now, first_name="James", last_name="Chen", cell_phone=JAMES
        )
        start = now - timedelta(days=6)
        for day in range(6):
            at = start + timedelta(days=day)
            text_from(session, number, MARIA, f"Maria's question {day}", at)
            send_message(
                session, studio, body=f"Answer {day}", sender=Sender.staff(owner.id),
                at=at + timedelta(minutes=5), client=maria,
            )  # fmt: skip
            text_from(session, number, JAMES, f"James says hi {day}", at + timedelta(hours=1))
        text_from(session, number, STRANGER, "Who is this?", start + timedelta(days=2))
        # A salon in Chicago that has not turned Message Center on.
        fresh = _business(
            session, "Fresh Salon", "US", "America/Chicago", "+13125550177",
            "owner@fresh.example",
        )  # fmt: skip
        return {
            "london": london.id, "pat": pat.id, "studio": studio.id, "maria": maria.id,
            "james": james.id, "fresh": fresh.id,
        }  # fmt: skip


@pytest.fixture
def site(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    port = live_server.free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(live_server, "free_port", lambda: port)  # serve() on public_url's port
    context = build_context(settings.model_copy(update={"public_url": url}), engine=engine)
    try:
        ids = _seed(context, url)
        with live_server.serve(create_app(context=context, run_dispatcher=False)) as served:
            assert served == url
            yield Site(url, context, ids)
    finally:
        empty_all_tables(engine)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A page in a browser context of its own, closed before the server stops."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context.new_page()
    context.close()


# ---------------------------------------------------------------------------- cell phone


def test_a_landline_gets_a_live_hint_and_saving_it_is_refused(site: Site, page: Any) -> None:
    site.login(page, "owner@mayfair.example")
    page.goto(f"{site.url}/clients/{site.ids['pat']}")
    phone, hint = page.locator("#cell_phone"), page.locator("#cell-phone-check")
    expect(phone).to_have_value("+447911123456")

    phone.fill("020 7946 0000")  # typing asks the server as you go
    expect(hint).to_contain_text("is a landline, which cannot receive text messages")
    expect(hint).to_have_class("hint bad")
    expect(phone).to_have_attribute("aria-invalid", "true")

    page.fill("#first_name", "Patricia")
    page.click("#client-form button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text("020 7946 0000 is a landline")
    expect(phone).to_have_value("020 7946 0000")  # kept for correcting
    with session_scope(site.context.sessions) as session:
        client = session.get(Client, site.ids["pat"])
        assert client is not None
        assert (client.first_name, client.cell_phone) == ("Pat", "+447911123456")

    phone.fill("07400 123456")
    expect(hint).to_have_text("Will be saved as 07400 123456")
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    page.click("#client-form button[type=submit]")
    expect(page.locator("[data-flash=note]")).to_have_text("Saved.")
    expect(phone).to_have_value("+447400123456")


# ---------------------------------------------------------------------------- history


def test_the_filtered_history_downloads_as_exactly_those_rows(site: Site, page: Any) -> None:
    site.login(page, "owner@sunrise.example")
    page.goto(f"{site.url}/history")
    table = page.locator("#history-table tbody tr")
    expect(table).to_have_count(6 * 3 + 1)

    page.select_option("#direction", "inbound")
    page.select_option("#client_id", label="Maria Lopez")
    page.click("#history-filters button[type=submit]")
    expect(page).to_have_url(re.compile(rf"direction=inbound&.*client_id={site.ids['maria']}"))
    expect(table).to_have_count(6)
    expect(page.locator("#totals")).to_contain_text("6 messages · 6 from clients · 0 to clients")
    shown = [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in table.all()]
    assert all(cells[2] == "In" and cells[6].startswith("Maria's question") for cells in shown)
    # Each row's instant (<time datetime>) in the studio's zone, as the CSV writes it.
    new_york = ZoneInfo("America/New_York")
    times = [
        datetime.fromisoformat(str(row.locator("time").get_attribute("datetime")))
        .astimezone(new_york)
        .strftime("%Y-%m-%d %H:%M:%S")
        for row in table.all()
    ]

    with page.expect_download() as downloading:
        page.click("#csv-link")
    download = downloading.value
    assert download.suggested_filename.startswith("sms-history-")
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8", newline="") as saved:
        rows = list(csv.reader(io.StringIO(saved.read())))
    header, body = rows[0], rows[1:]
    assert header[0] == "date" and "body" in header
    at = {name: n for n, name in enumerate(header)}
    # Exactly the filtered rows, oldest first (the table shows the newest first).
    assert [(r[at["date"]], r[at["body"]], r[at["direction"]]) for r in body] == [
        (when, cells[6], "inbound")
        for when, cells in reversed(list(zip(times, shown, strict=True)))
    ]


# ---------------------------------------------------------------------------- SMS number


def test_turn_on_with_a_suggested_number_then_change_it_after_the_warning(
    site: Site, page: Any
) -> None:
    site.login(page, "owner@fresh.example")
    page.goto(f"{site.url}/settings")
    expect(page.locator("#sms-number")).to_contain_text("Message Center is not on yet")
    choices = page.locator("#number-form input[type=radio]")
    expect(choices).to_have_count(5)
    first = choices.nth(1).get_attribute("value")
    assert first and first.startswith("+1312555")
    choices.nth(1).check()
    page.click("#number-form button[type=submit]")
    # Shown the US way ((312) 555-…), E.164 in its tooltip.
    expect(page.locator("#active-number")).to_have_text(phone_text(first, "US"))
    expect(page.locator("#active-number .phone")).to_have_attribute("title", first)

    # Changing: the warning first, and nothing changes until it is confirmed.
    choices = page.locator("#number-form input[type=radio]")
    second = choices.nth(0).get_attribute("value")
    assert second and second != first
    choices.nth(0).check()
    page.click("#number-form button:has-text('Change number')")
    warning = page.locator("#change-warning")
    expect(warning).to_contain_text(
        f"replies that clients send to {phone_text(first, 'US')} will not reach you"
    )
    expect(page.locator("#active-number")).to_have_text(phone_text(first, "US"))
    with session_scope(site.context.sessions) as session:
        number = active_number(session, site.ids["fresh"])
        assert number is not None and number.phone_number == first

    warning.locator("button", has_text=f"Yes, change to {phone_text(second, 'US')}").click()
    expect(page.locator("#active-number")).to_have_text(phone_text(second, "US"))
    expect(page.locator("#change-warning")).to_have_count(0)
    with session_scope(site.context.sessions) as session:
        old = session.scalar(select(SmsNumber).where(SmsNumber.phone_number == first))
        assert old is not None and old.status == "released"


# ---------------------------------------------------------------------------- API keys


def test_a_revoked_api_key_is_refused_by_the_api(site: Site, page: Any) -> None:
    site.login(page, "owner@sunrise.example")
    page.goto(f"{site.url}/settings")
    page.fill("#key-name", "Booking system")
    page.click("#api-keys form.inline-form button[type=submit]")
    secret = page.locator("#new-key").inner_text().strip()
    assert secret.startswith("mc_")
    # At the top of the page, above every section, where it cannot be missed.
    note, first_section = page.locator("#new-key-note"), page.locator("section.card").first
    note_box, section_box = note.bounding_box(), first_section.bounding_box()
    assert note_box is not None and section_box is not None
    assert note_box["y"] < section_box["y"]
    usage = f"{site.url}/api/v1/usage"
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(usage, headers=bearer, timeout=10).status_code == 200

    page.goto(f"{site.url}/settings")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once only
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke Booking system").click()
    asked = page.locator("#revoke-confirm")
    expect(asked).to_contain_text("Revoke the key “Booking system”")
    assert httpx.get(usage, headers=bearer, timeout=10).status_code == 200  # asked, not done
    asked.get_by_role("link", name="Keep the key").click()
    expect(page.locator("#revoke-confirm")).to_have_count(0)
    assert httpx.get(usage, headers=bearer, timeout=10).status_code == 200
    page.get_by_role("button", name="Revoke Booking system").click()
    page.locator("#revoke-confirm").get_by_role("button", name="Yes, revoke it").click()
    expect(page.locator("[data-flash=note]")).to_have_text("The key “Booking system” is revoked.")
    with session_scope(site.context.sessions) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.name == "Booking system"))
        assert key is not None
    expect(page.locator(f"tr[data-key-id='{key.id}']")).to_contain_text("Revoked")
    refused = httpx.get(usage, headers=bearer, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "bad_api_key"
