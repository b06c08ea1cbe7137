"""Two staff on one conversation, in two browser contexts: each sees the other viewing it,
and typing."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from messagecenter.db import session_scope
from messagecenter.staff.service import create_staff_member
from tests.web.conftest import TIMEOUT_MS, Live

CLERK, CLERK_PASSWORD = "casey@studio.example", "casey-password-1"


def test_a_colleague_on_the_same_conversation_shows_as_viewing_then_typing(
    browser: Any, live: Live
) -> None:
    with session_scope(live.context.sessions) as session:
        create_staff_member(
            session, business_id=live.business_id, email=CLERK, name="Casey", role="staff",
            can_send_sms=True, password=CLERK_PASSWORD, at=live.context.clock.now(),
        )  # fmt: skip
    live.text_from("+12125550142", "Is there parking?")
    maria = live.conversation_id("+12125550142")
    owner_context, clerk_context = browser.new_context(), browser.new_context()
    try:
        for context in (owner_context, clerk_context):
            context.set_default_timeout(TIMEOUT_MS)
        owner, clerk = owner_context.new_page(), clerk_context.new_page()
        live.login(owner)
        live.login(clerk, CLERK, CLERK_PASSWORD)
        owner.goto(f"{live.url}/conversations/{maria}")
        expect(owner.locator("#thread li.msg").last).to_contain_text("parking")
        clerk.goto(f"{live.url}/conversations/{maria}")

        presence = owner.locator("#presence")
        expect(presence).to_have_text("Casey is viewing this conversation")
        clerk.locator("#body").press_sequentially("Yes, behind")
        expect(presence).to_have_text("Casey is typing…")
        # Each page hears only the others: the clerk's own line is about the owner.
        expect(clerk.locator("#presence")).not_to_contain_text("Casey")
    finally:
        owner_context.close()
        clerk_context.close()
