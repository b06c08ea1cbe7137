"""Two staff in two browser contexts: one writes a note mentioning the other, whose open
conversation page shows the note in the thread and the mention notice, live."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from messagecenter.db import session_scope
from messagecenter.staff.service import create_staff_member
from tests.web.conftest import TIMEOUT_MS, Live
from tests.web.test_browser import assert_not_reloaded, mark_page, seed_text

CLERK, CLERK_PASSWORD = "casey@studio.example", "casey-password-1"


def test_a_note_mentioning_a_colleague_reaches_their_open_page_live(
    browser: Any, live: Live
) -> None:
    with session_scope(live.context.sessions) as session:
        create_staff_member(
            session, business_id=live.business_id, email=CLERK, name="Casey", role="staff",
            can_send_sms=True, password=CLERK_PASSWORD, at=live.context.clock.now(),
        )  # fmt: skip
    # Stored before any page opens (the simulator's texts are taken in asynchronously).
    maria = seed_text(live, "+12125550142", "Can I move my massage to 4pm?")
    owner_context, clerk_context = browser.new_context(), browser.new_context()
    try:
        for context in (owner_context, clerk_context):
            context.set_default_timeout(TIMEOUT_MS)
        owner, clerk = owner_context.new_page(), clerk_context.new_page()
        live.login(owner)
        live.login(clerk, CLERK, CLERK_PASSWORD)
        for page in (owner, clerk):
            page.goto(f"{live.url}/conversations/{maria}")
            expect(page.locator("#thread li.msg").last).to_contain_text("4pm?")
        expect(owner.locator("#mention-notice")).to_have_count(0)
        # The owner's stream has subscribed (its first event came): the note can only
        # reach that page live.
        expect(owner.locator("body")).to_have_attribute("data-live-ready", "1")
        expect(owner.locator("#thread li.staff-note")).to_have_count(0)
        mark_page(owner)

        clerk.click("#note-details summary")
        clerk.fill(
            "#note-body",
            "@casey is off at 4, @nobody knows. Can you take her, @"
            + (live.owner_email.split("@")[0].upper())
            + "?",
        )
        clerk.click("#add-note")
        mine = clerk.locator("#thread li.staff-note")
        expect(mine).to_contain_text("Note by Casey")

        note = owner.locator("#thread li.staff-note")  # live, without reloading
        expect(note).to_have_count(1)
        expect(note).to_have_attribute("aria-label", "Internal note by Casey")
        expect(note.locator("mark.mention")).to_have_count(2)  # @casey and the owner
        notice = owner.locator("#mention-notice")
        expect(notice).to_contain_text("Casey mentioned you in a note")
        expect(notice).to_contain_text("@casey is off at 4")
        expect(clerk.locator("#mention-notice")).to_have_count(0)  # the author is not told
        expect(owner.locator("#thread li.msg")).to_have_count(1)  # nothing was sent
        assert_not_reloaded(owner)
        notice.get_by_role("button", name="Dismiss").click()
        expect(notice).to_have_count(0)
    finally:
        owner_context.close()
        clerk_context.close()
