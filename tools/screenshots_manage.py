"""Screenshots of the owner's pages for the docs: python tools/screenshots_manage.py [outdir]

Builds a throw-away SQLite database with the demo business (messagecenter.demo.ensure_demo),
adds more clients (one unsubscribed by STOP, one whose number the carrier says cannot take
texts, one without a cell phone) and three weeks of texts with their delivery statuses,
serves the app with uvicorn in a thread at a fixed moment (so the pictures come out the same
every time), signs in with Debian's chromium through Playwright and saves, at 1280x800:

* clients.png: All Clients, with cell phone validity and SMS subscription
* history.png: SMS history with its filters, totals and rows
* usage.png: the allowance used this month and the units per day

into docs/screenshots unless another directory is given.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from messagecenter.apikeys.service import create_api_key
from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.demo import DEMO_OWNER_EMAIL, ensure_demo
from messagecenter.intake.record import record_inbound
from messagecenter.models import Business, Client, StaffMember
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.service import record_rejected, record_status
from messagecenter.staff.service import create_staff_member

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The throw-away database, server, browser, sign-in and saving are the inbox screenshots' own.
from screenshots import (  # noqa: E402
    CHROMIUM,
    TIMEOUT_MS,
    _save,
    chromium,
    serve_app,
    sign_in,
    throwaway_context,
)

NOW = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 12:30 in New York, the demo's time zone
ZONE = ZoneInfo("America/New_York")
VIEWPORT = {"width": 1280, "height": 800}
MORE_CLIENTS = [
    ("Priya", "Patel", "priya.patel@example.com", "+12125550145"),
    ("Daniel", "Ortiz", "daniel@example.com", "+12125550146"),
    ("Lena", "Novak", None, "+12125550147"),
    ("Omar", "Haddad", "omar.h@example.com", "+12125550148"),
    ("Sofia", "Rossi", "sofia.rossi@example.com", "+12125550149"),
    ("Ben", "Carter", "ben.carter@example.com", "+12125550150"),
    ("Chloe", "Martin", "chloe@example.com", "+12125550151"),
    ("Ethan", "Wright", None, "+12125550152"),
    ("Grace", "Kim", "grace.kim@example.com", "+12125550153"),
    ("Hugo", "Laurent", "hugo@example.com", None),
]
QUESTIONS = [
    "Can I move my 3pm to 4?",
    "Is there parking near the studio?",
    "Do you have yoga on Sunday?",
    "Running 10 minutes late, sorry!",
    "Can I bring a friend to Saturday's class?",
    "Thanks, see you tomorrow!",
    "Is the hot stone massage still on offer?",
    "What time do you close today?",
]
ANSWERS = [
    "Of course, you're booked for 4pm.",
    "Yes, free parking behind the building after 5pm.",
    "Sunday yoga is at 10 and 5. See you there!",
    "No problem, we'll hold your spot.",
    "Absolutely, the first class is free for friends.",
    "We close at 8pm today.",
]


# ---------------------------------------------------------------------------- the demo data


class Seeder:
    """Three weeks at the studio, one unit of work per step."""

    def __init__(self, context: AppContext, public_url: str) -> None:
        self.context = context
        self.rng = random.Random(20261124)
        self._sequence = 0
        with session_scope(context.sessions) as session:
            demo = ensure_demo(session, context.carrier, public_url, NOW - timedelta(days=40))
            self.business_id = demo.business_id
            self.sms_number = demo.sms_number
            business = self._business(session)
            owner = session.scalar(select(StaffMember).where(StaffMember.email == DEMO_OWNER_EMAIL))
            assert owner is not None
            self.owner_id = owner.id
            desk = create_staff_member(
                session, business_id=business.id, email="lena@demo.example",
                name="Lena (front desk)", role="staff", can_send_sms=True,
                password="front-desk-password", at=NOW - timedelta(days=40),
            )  # fmt: skip
            self.desk_id = desk.id
            key, _ = create_api_key(
                session, business.id, "Booking system", NOW - timedelta(days=40)
            )
            self.key_id = key.id
            for first, last, email, phone in MORE_CLIENTS:
                create_client(
                    session,
                    business,
                    ClientChanges(first_name=first, last_name=last, email=email, cell_phone=phone),
                    NOW - timedelta(days=35),
                )
            self.phones = [
                phone
                for phone in session.scalars(
                    select(Client.cell_phone).where(
                        Client.business_id == business.id, Client.cell_phone.is_not(None)
                    )
                )
                if phone
            ]

    def _business(self, session: object) -> Business:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        business = session.get(Business, self.business_id)
        assert business is not None
        return business

    def text(self, phone: str, body: str, at: datetime) -> None:
        self._sequence += 1
        with session_scope(self.context.sessions) as session:
            record_inbound(
                session, InboundSms(f"SMmanage{self._sequence:024d}", phone, self.sms_number, body),
                at,
            )  # fmt: skip

    def send(self, phone: str, body: str, sender: Sender, at: datetime, outcome: str) -> None:
        """A message to a client, and what the carrier made of it."""
        with session_scope(self.context.sessions) as session:
            client = session.scalar(
                select(Client).where(
                    Client.business_id == self.business_id, Client.cell_phone == phone
                )
            )
            message = send_message(
                session, self._business(session), body=body, sender=sender, at=at, client=client
            )
            later = at + timedelta(seconds=20)
            if outcome == "rejected":
                record_rejected(session, message.id, explain(21614), "not a mobile number", later)
            elif outcome != "queued":
                code = 30003 if outcome == "undelivered" else None
                self._sequence += 1
                sid = f"SMout{self._sequence:027d}"
                record_status(session, StatusReport(sid, "sent", message.id), later)
                failure = explain(code) if code is not None else None
                report = StatusReport(sid, outcome, message.id, failure)
                record_status(session, report, later + timedelta(seconds=5))


def local(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def seed(context: AppContext, public_url: str) -> None:
    s = Seeder(context, public_url)
    rng = s.rng
    first = NOW.astimezone(ZONE).date().replace(day=1)
    today = NOW.astimezone(ZONE).date()
    day = first
    while day <= today:
        busy = 2 if day.weekday() == 6 else rng.randint(3, 7)
        for n in range(busy):
            at = local(day, 9 + n, rng.randint(0, 50))
            if at >= NOW - timedelta(minutes=30):
                break
            phone = rng.choice(s.phones)
            s.text(phone, rng.choice(QUESTIONS), at)
            sender = Sender.staff(rng.choice([s.owner_id, s.desk_id]))
            outcome = rng.choices(["delivered", "undelivered"], weights=[12, 1])[0]
            s.send(phone, rng.choice(ANSWERS), sender, at + timedelta(minutes=6), outcome)
        if day.weekday() in (0, 3):  # reminders for the week's bookings
            for phone in rng.sample(s.phones, 4):
                s.send(
                    phone, "Reminder: your class is tomorrow. Reply to reschedule.",
                    Sender.api_key(s.key_id), local(day, 8, 0), "delivered",
                )  # fmt: skip
        day += timedelta(days=1)

    # Priya unsubscribed (the carrier answered STOP itself); Omar's number is a landline.
    s.text("+12125550145", "STOP", local(today - timedelta(days=6), 19, 12))
    s.send(
        "+12125550148", "Welcome to Sunrise Yoga & Spa!", Sender.automated(),
        local(today - timedelta(days=4), 10, 0), "rejected",
    )  # fmt: skip
    # The latest: a reminder still on its way.
    s.send(
        "+12125550142", "Reminder: please arrive 10 minutes early.", Sender.automated(),
        NOW - timedelta(minutes=8), "queued",
    )  # fmt: skip


# ---------------------------------------------------------------------------- serving


def shoot(base_url: str, outdir: Path) -> list[Path]:
    from playwright.sync_api import expect

    outdir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        sign_in(page, base_url)

        page.goto(f"{base_url}/clients")
        expect(page.locator("#clients-report tbody tr").first).to_be_visible()
        saved.append(_save(page, outdir / "clients.png"))

        page.goto(f"{base_url}/history")
        expect(page.locator("#history-table tbody tr").first).to_be_visible()
        saved.append(_save(page, outdir / "history.png"))

        page.goto(f"{base_url}/usage")
        expect(page.locator("#usage-summary")).to_be_visible()
        saved.append(_save(page, outdir / "usage.png"))
        context.close()
    return saved


def main(argv: list[str]) -> int:
    outdir = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    if not Path(CHROMIUM).exists():
        print("Debian's chromium is needed: apt-get install chromium", file=sys.stderr)
        return 2
    with throwaway_context("mc-screenshots-manage-", clock=FrozenClock(NOW)) as context:
        seed(context, context.settings.public_url)
        with serve_app(context) as base_url:
            saved = shoot(base_url, outdir)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
