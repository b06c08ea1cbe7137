"""Assignment and per-staff read markers with two staff in two browser contexts: assigning
a conversation to a colleague reaches them live (a notice, and the list says it is theirs),
the Mine and Unassigned views, and "new since I last looked" in bold for each on their own."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from messagecenter.db import session_scope
from messagecenter.models import StaffMember
from messagecenter.staff.service import create_staff_member
from tests.web.conftest import TIMEOUT_MS, Live

CLERK, CLERK_PASSWORD = "casey@studio.example", "casey-password-1"
MARIA, JOHN = "+12125550142", "+12125550143"


def listed(page: Any, text: str) -> int:
    """The id of the conversation the page's list shows with this text, once it shows it
    (on PostgreSQL a text is taken in by the worker, a moment after the carrier posts it)."""
    found = page.locator("#conversation-list li").filter(has_text=text)
    expect(found).to_have_count(1)
    return int(found.get_attribute("data-conversation-id"))


def row(page: Any, conversation_id: int) -> Any:
    return page.locator(f'#conversation-list li[data-conversation-id="{conversation_id}"]')


def test_assigning_reaches_the_colleague_live_and_each_has_their_own_bold(
    browser: Any, live: Live
) -> None:
    with session_scope(live.context.sessions) as session:
        create_staff_member(
            session, business_id=live.business_id, email=CLERK, name="Casey", role="staff",
            can_send_sms=True, password=CLERK_PASSWORD, at=live.context.clock.now(),
        )  # fmt: skip
    live.text_from(MARIA, "Can I move my massage to 4pm?")
    owner_context, clerk_context = browser.new_context(), browser.new_context()
    try:
        for context in (owner_context, clerk_context):
            context.set_default_timeout(TIMEOUT_MS)
        owner, clerk = owner_context.new_page(), clerk_context.new_page()
        live.login(owner)
        live.login(clerk, CLERK, CLERK_PASSWORD)
        maria = listed(clerk, "move my massage")
        expect(row(clerk, maria).locator(".assignee")).to_have_text("Unassigned")
        # A text shown live on the colleague's inbox: their stream is certainly open.
        live.text_from(JOHN, "Running late")
        john = listed(clerk, "Running late")

        owner.goto(f"{live.url}/conversations/{maria}")
        owner.select_option("#assignee", label="Casey")
        owner.click("#assign")
        expect(owner.locator(".event-line")).to_contain_text("Assigned to Casey by")
        expect(owner.locator("#assignee")).to_have_value(str(_staff_id(live, CLERK)))

        # A later text: after a reload the event line sits in the thread before it.
        live.text_from(MARIA, "Thanks!")
        expect(owner.locator("#thread li.msg").last).to_contain_text("Thanks!")
        owner.reload()
        expect(owner.locator("#thread > li").last).to_contain_text("Thanks!")
        expect(owner.locator("#thread > li.event-line")).to_contain_text("Assigned to Casey")

        notice = clerk.locator(".assigned-notice")
        expect(notice).to_contain_text("assigned you a conversation")
        expect(notice.locator("a")).to_have_attribute("href", f"/conversations/{maria}")
        expect(row(clerk, maria).locator(".assignee")).to_have_text("Me")

        clerk.click("a.assignment-view[href='/inbox?folder=mine']")
        expect(clerk.locator("#conversation-list li")).to_have_count(1)
        expect(row(clerk, maria)).to_have_count(1)
        clerk.click("a.assignment-view[href='/inbox?folder=unassigned']")
        expect(row(clerk, john)).to_have_count(1)
        expect(row(clerk, maria)).to_have_count(0)

        # The owner has opened Maria's conversation; Casey has not: bold for Casey only.
        owner.goto(f"{live.url}/inbox")
        clerk.goto(f"{live.url}/inbox")
        expect(row(owner, maria).locator(".name")).not_to_have_class("name new-for-me")
        expect(row(owner, john).locator(".name")).to_have_class("name new-for-me")
        expect(row(clerk, maria).locator(".name")).to_have_class("name new-for-me")
        clerk.goto(f"{live.url}/conversations/{john}")
        clerk.goto(f"{live.url}/inbox")
        expect(row(clerk, john).locator(".name")).to_have_class("name")  # seen by Casey now
        expect(row(owner, john).locator(".name")).to_have_class("name new-for-me")  # not by them
    finally:
        owner_context.close()
        clerk_context.close()


def _staff_id(live: Live, email: str) -> int:
    with session_scope(live.context.sessions) as session:
        found = session.scalar(select(StaffMember.id).where(StaffMember.email == email))
    assert found is not None
    return int(found)
