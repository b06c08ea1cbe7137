"""Two staff on one conversation, in two browser contexts: each sees the other viewing it,
and typing."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import CASEY_EMAIL, CASEY_PASSWORD, Live, TwoStaff
from tests.web.test_browser import seed_text


def test_a_colleague_on_the_same_conversation_shows_as_viewing_then_typing(
    two_staff: TwoStaff, live: Live
) -> None:
    maria = seed_text(live, "+12125550142", "Is there parking?")
    owner, clerk = two_staff.owner, two_staff.clerk
    live.login(owner)
    live.login(clerk, CASEY_EMAIL, CASEY_PASSWORD)
    owner.goto(f"{live.url}/conversations/{maria}")
    expect(owner.locator("#thread li.msg").last).to_contain_text("parking")
    clerk.goto(f"{live.url}/conversations/{maria}")

    presence = owner.locator("#presence")
    expect(presence).to_have_text("Casey is viewing this conversation")
    clerk.locator("#body").press_sequentially("Yes, behind")
    expect(presence).to_have_text("Casey is typing…")
    # Each page hears only the others: the clerk's own line is never about herself.
    expect(clerk.locator("#presence")).not_to_contain_text("Casey")
