"""The confirm steps in Chromium: a shared cell phone is saved only after the warning, and
a staff password is reset only after the owner confirms (web/manage.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from messagecenter.db import session_scope
from messagecenter.models import Client
from tests.web.conftest import Live

expect = pytest.importorskip("playwright.sync_api").expect


def _clients_with(live: Live, phone: str) -> int:
    with session_scope(live.context.sessions) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Client).where(Client.cell_phone == phone)
            )
            or 0
        )


def test_a_shared_cell_phone_is_saved_only_after_the_warning(
    live: Live, staff_browser: Any
) -> None:
    page = staff_browser.new_page()
    live.login(page)
    page.goto(f"{live.url}/clients/new")
    page.fill("#first_name", "Rosa")
    page.fill("#last_name", "Lopez")
    page.fill("#cell_phone", "(212) 555-0142")  # Maria's
    page.click("#save-client")

    warning = page.locator("#same-phone-warning")
    expect(warning).to_contain_text("Maria Lopez already has the cell phone (212) 555-0142")
    expect(warning.locator("#same-phone-consent")).to_contain_text("subscribed to texts")
    expect(page.locator("#first_name")).to_have_value("Rosa")  # kept as typed
    assert _clients_with(live, "+12125550142") == 1  # not saved yet

    warning.get_by_role("button", name="Save anyway").click()
    expect(page.locator("[data-flash=note]")).to_have_text("Saved.")
    expect(page.locator("h1")).to_contain_text("Rosa Lopez")
    assert _clients_with(live, "+12125550142") == 2


def test_a_staff_password_is_reset_only_after_the_owner_confirms(
    live: Live, staff_browser: Any, browser: Any
) -> None:
    owner = staff_browser.new_page()
    live.login(owner)
    owner.goto(f"{live.url}/staff")
    owner.fill("#staff-name", "Dana Desk")
    owner.fill("#staff-email", "dana@studio.example")
    owner.click("form[action='/staff'] button[type=submit]")
    first = re.search(r"password (\S+) —", owner.locator("#staff-added").inner_text())
    assert first is not None

    desk = browser.new_context()
    try:
        dana = desk.new_page()
        live.login(dana, "dana@studio.example", first[1])

        owner.goto(f"{live.url}/staff")
        owner.get_by_role("button", name="Reset the password of Dana Desk").click()
        asked = owner.locator("#reset-confirm")
        expect(asked).to_contain_text("Give Dana Desk a new password?")
        asked.get_by_role("link", name="Keep the old password").click()
        expect(owner.locator("#reset-confirm")).to_have_count(0)
        dana.goto(f"{live.url}/inbox")
        expect(dana).to_have_url(f"{live.url}/inbox")  # still signed in: nothing changed

        owner.get_by_role("button", name="Reset the password of Dana Desk").click()
        owner.locator("#reset-confirm").get_by_role(
            "button", name="Yes, reset the password"
        ).click()
        note = owner.locator("#staff-added")
        expect(note).to_contain_text("dana@studio.example can now sign in with the new password")
        new = re.search(r"new password (\S+) —", note.inner_text())
        assert new is not None and new[1] != first[1]

        dana.goto(f"{live.url}/inbox")
        expect(dana).to_have_url(f"{live.url}/login")  # signed out everywhere
        live.login(dana, "dana@studio.example", new[1])
    finally:
        desk.close()
