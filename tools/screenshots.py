"""Screenshots of the staff web app for the docs: python tools/screenshots.py [outdir]

Builds a throw-away SQLite database with the demo business and a few more conversations
(replies with their delivery statuses, an unsubscribed client, a muted and a pinned
conversation), serves the app with uvicorn in a thread (with its background worker, so the
simulated carrier delivers in real time), signs in with Debian's chromium through Playwright
and saves:

* inbox.png and conversation.png (desktop, 1280x800: the list, the thread, the client panel)
* inbox-phone.png and conversation-phone.png (a phone, 375x740: one pane at a time)

into docs/screenshots unless another directory is given.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from messagecenter.app import create_app
from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.clock import Clock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.conversations import service as conversations
from messagecenter.db import session_scope
from messagecenter.demo import DEMO_OWNER_EMAIL, DEMO_PASSWORD, ensure_demo
from messagecenter.intake import record
from messagecenter.migrate import upgrade
from messagecenter.models import Business, Conversation, Message, StaffMember
from messagecenter.sending.compose import Sender, send_message

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The server in a thread and the browser are the web tests' own.
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, free_port, serve  # noqa: E402

TIMEOUT_MS = 15_000  # every wait in the browser
MARIA = "+12125550142"
JAMES = "+12125550143"
AISHA = "+12125550144"
PRIYA = "+12125550145"
DANIEL = "+12125550146"
# A typographic apostrophe (U+2019) is not in GSM-7: the counter shows UCS-2 and why.
DRAFT = "Great, see you at 4! Lena\u2019s room will be ready."


# ---------------------------------------------------------------------------- the demo data


class Seeder:
    """Writes the story of a morning at the studio, one unit of work per step."""

    def __init__(self, context: AppContext, public_url: str) -> None:
        self.context = context
        self.public_url = public_url
        self.now = context.clock.now()
        with session_scope(context.sessions) as session:
            demo = ensure_demo(session, context.carrier, public_url, self.ago(hours=5))
            self.business_id = demo.business_id
            self.sms_number = demo.sms_number
            owner = session.scalar(select(StaffMember).where(StaffMember.email == DEMO_OWNER_EMAIL))
            assert owner is not None
            self.owner_id = owner.id
            business = session.get(Business, self.business_id)
            assert business is not None
            for first, last, phone in (("Priya", "Patel", PRIYA), ("Daniel", "Ortiz", DANIEL)):
                create_client(
                    session,
                    business,
                    ClientChanges(first_name=first, last_name=last, cell_phone=phone),
                    self.ago(days=30),
                )
        self._sequence = 0

    def ago(self, *, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours, minutes=minutes)

    def conversation(self, phone: str) -> int:
        with session_scope(self.context.sessions) as session:
            conversation_id = session.scalar(
                select(Conversation.id).where(
                    Conversation.business_id == self.business_id, Conversation.phone == phone
                )
            )
        assert conversation_id is not None
        return int(conversation_id)

    def text(self, phone: str, body: str, at: datetime) -> int:
        """A client's text arrives (as the carrier would hand it over); its conversation."""
        self._sequence += 1
        with session_scope(self.context.sessions) as session:
            record.record_inbound(
                session,
                InboundSms(f"SMshot{self._sequence:026d}", phone, self.sms_number, body),
                at,
            )
        return self.conversation(phone)

    def reply(self, conversation_id: int, body: str, at: datetime) -> int:
        """The owner answers; the message is queued for the dispatcher."""
        with session_scope(self.context.sessions) as session:
            business = session.get(Business, self.business_id)
            assert business is not None
            message = send_message(
                session,
                business,
                body=body,
                sender=Sender.staff(self.owner_id),
                conversation=conversations.get_conversation(
                    session, self.business_id, conversation_id
                ),
                at=at,
            )
            return message.id

    def read(self, conversation_id: int) -> None:
        with session_scope(self.context.sessions) as session:
            conversations.mark_read(session, self.business_id, conversation_id, self.now)

    def flags(self, conversation_id: int, **flags: bool) -> None:
        with session_scope(self.context.sessions) as session:
            conversations.update_flags(session, self.business_id, conversation_id, **flags)

    def not_delivered(self, message_id: int, code: int) -> None:
        """Hand the queued messages to the carrier, then have this one come back undelivered
        (before the simulated carrier's own 'delivered' would)."""
        sid = None
        for _ in range(50):  # the number's pace lets one message go at a time
            self.context.dispatcher.run_once()
            with session_scope(self.context.sessions) as session:
                sid = session.scalar(select(Message.carrier_sid).where(Message.id == message_id))
            if sid is not None:
                break
            time.sleep(0.2)
        assert sid is not None, "the message was not handed to the carrier"
        self.context.reports.record_reports(
            [
                StatusReport(
                    sid,
                    "undelivered",
                    message_id,
                    explain(code),
                    {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": str(code)},
                )
            ]
        )


def seed(context: AppContext, public_url: str) -> dict[str, int]:
    """The demo plus a realistic morning; returns conversation ids by client."""
    s = Seeder(context, public_url)
    ids: dict[str, int] = {}

    # Aisha: a question answered yesterday, pinned because her booking needs a follow-up.
    ids["aisha"] = s.text(AISHA, "Is there parking near the studio?", s.ago(days=1, hours=3))
    s.read(ids["aisha"])
    s.reply(
        ids["aisha"],
        "Yes, free parking behind the building after 5pm. See you Thursday!",
        s.ago(days=1, hours=2),
    )
    s.flags(ids["aisha"], pinned=True)

    # Priya unsubscribed: the carrier answered STOP itself.
    ids["priya"] = s.text(PRIYA, "Thanks for the class pass offer!", s.ago(days=2))
    s.read(ids["priya"])
    s.text(PRIYA, "STOP", s.ago(hours=20))
    s.read(ids["priya"])

    # Daniel: muted (a supplier testing the number); his texts do not count in the badge.
    ids["daniel"] = s.text(DANIEL, "Test from the new tablet at reception", s.ago(hours=7))
    s.flags(ids["daniel"], muted=True)

    # Maria (the demo's first text): moved her massage, missed a reminder, wrote back.
    ids["maria"] = s.conversation(MARIA)
    s.read(ids["maria"])
    s.reply(
        ids["maria"], "Of course! You're now booked for 4pm with Lena.", s.ago(hours=4, minutes=50)
    )
    s.text(MARIA, "Perfect, thank you!", s.ago(hours=4, minutes=40))
    s.read(ids["maria"])
    reminder = s.reply(
        ids["maria"],
        "Reminder: please arrive 10 minutes early to fill in the health form.",
        s.ago(hours=1),
    )
    s.not_delivered(reminder, 30003)
    s.text(MARIA, "Just saw this, my phone was off. See you at 4!", s.ago(minutes=12))

    # James: asked, got an answer, and answered back (unread again).
    ids["james"] = s.text(JAMES, "Can I bring a friend to Saturday's class?", s.ago(hours=3))
    s.read(ids["james"])
    s.reply(ids["james"], "Absolutely, the first class is free for friends.", s.ago(hours=2))
    s.text(JAMES, "Great, we\u2019ll both be there!", s.ago(minutes=35))
    return ids


# ---------------------------------------------------------------------------- serving


@contextmanager
def throwaway_context(prefix: str, clock: Clock | None = None) -> Iterator[AppContext]:
    """The app's context over a new SQLite database in a temporary directory, on the simulated
    carrier (which never fails here); its public_url is on a free port."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        database_url = f"sqlite:///{tmp}/screenshots.db"
        upgrade(database_url)
        settings = Settings(
            database_url=database_url,
            public_url=f"http://127.0.0.1:{free_port()}",
            secret_key="screenshots-only",
            carrier="simulator",
            simulator_failure_rate=0.0,
        )
        context = build_context(settings, clock=clock)
        try:
            yield context
        finally:
            context.engine.dispose()


def serve_app(context: AppContext) -> AbstractContextManager[str]:
    """The app with its background worker, on its public_url's port; yields the base URL."""
    port = urlsplit(context.settings.public_url).port
    return serve(create_app(context=context, run_dispatcher=True), port)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium through Playwright, closed when the block ends."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# ---------------------------------------------------------------------------- the pictures


def shoot(base_url: str, ids: dict[str, int], outdir: Path) -> list[Path]:
    from playwright.sync_api import expect

    outdir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with chromium() as browser:
        desktop = browser.new_context(viewport={"width": 1280, "height": 800})
        phone = browser.new_context(
            viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
        )
        for context in (desktop, phone):
            context.set_default_timeout(TIMEOUT_MS)
        wide = desktop.new_page()
        small = phone.new_page()
        for page in (wide, small):
            sign_in(page, base_url)

        # The inboxes first: opening a conversation reads it.
        wide.goto(f"{base_url}/inbox")
        expect(wide.locator("#unread-badge")).to_have_text("3")
        saved.append(_save(wide, outdir / "inbox.png"))
        small.goto(f"{base_url}/inbox")
        expect(small.locator("#unread-badge")).to_have_text("3")
        saved.append(_save(small, outdir / "inbox-phone.png"))

        wide.goto(f"{base_url}/conversations/{ids['maria']}")
        statuses = wide.locator(".msg.outbound.staff .status")
        expect(statuses.first).to_have_attribute("data-status", "delivered")
        expect(statuses.last).to_have_attribute("data-status", "undelivered")
        wide.fill("#body", DRAFT)
        expect(wide.locator("#counter")).to_have_attribute("data-encoding", "UCS-2")
        # The list, the thread at its newest message and the client panel, side by side.
        saved.append(_save(wide, outdir / "conversation.png"))
        small.goto(f"{base_url}/conversations/{ids['maria']}")
        expect(small.locator("#thread li.msg").last).to_be_in_viewport()
        saved.append(_save(small, outdir / "conversation-phone.png"))
        desktop.close()
        phone.close()
    return saved


def sign_in(page: object, base_url: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{base_url}/login")
    page.fill("#email", DEMO_OWNER_EMAIL)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(f"{base_url}/inbox")


def _save(page: object, path: Path, *, full_page: bool = False) -> Path:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def main(argv: list[str]) -> int:
    outdir = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    if not Path(CHROMIUM).exists():
        print("Debian's chromium is needed: apt-get install chromium", file=sys.stderr)
        return 2
    with throwaway_context("mc-screenshots-") as context:
        ids = seed(context, context.settings.public_url)
        with serve_app(context) as base_url:
            saved = shoot(base_url, ids, outdir)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
