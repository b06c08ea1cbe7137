"""Two staff answering one client, in two browser contexts: the one whose page has not shown
the colleague's reply is stopped before sending, sees that reply, and keeps the draft; sending
again sends it. (The second page's live stream is cut, as a tab asleep or offline would be.)"""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from messagecenter.db import session_scope
from messagecenter.models import Message
from tests.web.conftest import CASEY_EMAIL, CASEY_PASSWORD, Live, TwoStaff
from tests.web.test_browser import seed_text


def outbound(live: Live, conversation_id: int) -> list[str]:
    with session_scope(live.context.sessions) as session:
        return list(
            session.scalars(
                select(Message.body)
                .where(Message.conversation_id == conversation_id, Message.direction == "outbound")
                .order_by(Message.id)
            )
        )


def test_a_reply_the_page_has_not_shown_stops_the_send_and_the_draft_stays(
    two_staff: TwoStaff, live: Live
) -> None:
    maria = seed_text(live, "+12125550142", "Can I move my massage to 4pm?")
    owner, clerk = two_staff.owner, two_staff.clerk
    clerk.route("**/app/events", lambda route: route.abort())  # no live updates here
    live.login(owner)
    live.login(clerk, CASEY_EMAIL, CASEY_PASSWORD)
    for page in (owner, clerk):
        page.goto(f"{live.url}/conversations/{maria}")
        expect(page.locator("#thread li.msg").last).to_contain_text("4pm?")

    owner.fill("#body", "Done, see you at 4!")
    owner.click("#send")
    expect(owner.locator("#thread li.msg").last).to_contain_text("Done, see you at 4!")

    clerk.fill("#body", "Sorry, 4pm is full")
    clerk.click("#send")
    alert = clerk.locator("p.flash.error")
    expect(alert).to_contain_text("Someone replied since you opened this conversation")
    expect(alert).to_contain_text("Done, see you at 4!")
    expect(clerk.locator("#thread li.msg").last).to_contain_text("Done, see you at 4!")
    expect(clerk.locator("#body")).to_have_value("Sorry, 4pm is full")  # the draft stays
    assert outbound(live, maria) == ["Done, see you at 4!"]

    clerk.click("#send")  # now the page has shown it: sending again sends
    expect(clerk.locator("#thread li.msg").last).to_contain_text("Sorry, 4pm is full")
    assert outbound(live, maria) == ["Done, see you at 4!", "Sorry, 4pm is full"]
