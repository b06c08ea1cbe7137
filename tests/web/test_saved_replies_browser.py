"""Saved replies between two staff, in two browser contexts: the owner saves them in
Settings; in the composer, the clerk's "/" and a name's first letters list them filled in for
this client and Enter puts the text in place of "/name"; the button lists them all and a
click inserts at the cursor."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import CASEY_EMAIL, CASEY_PASSWORD, Live, TwoStaff
from tests.web.test_browser import seed_text


def test_the_owner_s_saved_replies_are_inserted_by_a_colleague_filled_in_for_the_client(
    two_staff: TwoStaff, live: Live
) -> None:
    maria = seed_text(live, "+12125550142", "Where do I park?")
    owner, clerk = two_staff.owner, two_staff.clerk
    live.login(owner)
    owner.goto(f"{live.url}/settings/saved-replies")
    for name, body in (
        ("parking", "Park behind the studio, [Firstname]."),
        ("prices", "Our prices: studio.example/prices"),
    ):
        owner.fill("#new-name", name)
        owner.fill("#new-body", body)
        owner.click("#add-saved-reply button[type=submit]")
        expect(owner.locator(f"input[value='{name}']")).to_have_count(1)

    live.login(clerk, CASEY_EMAIL, CASEY_PASSWORD)
    clerk.goto(f"{live.url}/conversations/{maria}")
    body = clerk.locator("#body")
    body.press_sequentially("Hi! /pa")
    options = clerk.locator("#saved-reply-list [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Park behind the studio, Maria.")
    body.press("Enter")
    expect(body).to_have_value("Hi! Park behind the studio, Maria.")
    expect(clerk.locator("#saved-reply-list")).to_be_hidden()

    clerk.click("#saved-replies-button")
    expect(options).to_have_count(2)
    clerk.locator("#saved-reply-option-prices").click()
    expect(body).to_have_value(
        "Hi! Park behind the studio, Maria.Our prices: studio.example/prices"
    )
