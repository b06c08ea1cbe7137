"""Fixtures for the staff web app's tests.

* `browser`: Debian's chromium driven by Playwright (its own browser download is never used);
  the browser tests are skipped with the reason when chromium is missing or will not start.
* `live`: the whole app served by uvicorn in a thread, with the background worker running and
  the real clock, so the simulated carrier's status reports arrive in real time; seeded with a
  business whose owner's password is known and a few clients. Its units of work really commit;
  every table is emptied afterwards.
* `staff_browser`: a fresh browser context (own cookies) per test, closed before the server
  stops so no live event stream is left open.
* `web`: the app over Starlette's TestClient on the rolled-back `context`, for the fast page
  tests; `sign_in` logs a TestClient in through the form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock, SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Business, Client, Conversation, StaffMember
from messagecenter.staff.service import create_staff_member, list_staff
from tests import live_server
from tests.conftest import empty_all_tables
from tests.factories import make_business, make_client
from tests.live_server import CHROMIUM, CHROMIUM_ARGS

SKIP_REASON = (
    "browser tests skipped: Debian's chromium is not installed (apt-get install chromium); "
    ".ci/run installs it"
)
TIMEOUT_MS = 10_000  # every explicit wait in the browser tests
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

CLIENTS = [
    ("Maria", "Lopez", "+12125550142"),
    ("James", "Chen", "+12125550143"),
    ("Aisha", "Khan", "+12125550144"),
]


# ---------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium for a module's tests (Debian's, through Playwright's sync API); stopped
    after them, so Playwright's event loop is gone before other tests run."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
    except Error as exc:
        playwright.stop()
        pytest.skip(f"{SKIP_REASON} (chromium did not start: {str(exc).splitlines()[0]})")
    yield launched
    launched.close()
    playwright.stop()


# ---------------------------------------------------------------------------- the live server


@dataclass
class Live:
    """The served app and what was seeded into it."""

    url: str
    context: AppContext
    business_id: int
    sms_number: str
    owner_email: str
    owner_password: str
    api_auth: dict[str, str] = field(default_factory=dict)  # the business's API key header
    clients: dict[str, Client] = field(default_factory=dict)  # by first name

    def login(self, page: Any, email: str | None = None, password: str | None = None) -> None:
        """Sign `page` in through the login form and wait for the inbox."""
        from playwright.sync_api import expect

        page.goto(f"{self.url}/login")
        page.fill("#email", email or self.owner_email)
        page.fill("#password", password or self.owner_password)
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(f"{self.url}/inbox")

    def text_from(self, phone: str, body: str) -> None:
        """A client's phone texts the business, through the simulated carrier's endpoint:
        from outside any page."""
        reply = httpx.post(
            f"{self.url}/simulator/messages",
            json={"from_phone": phone, "to_phone": self.sms_number, "body": body},
            headers=self.api_auth,
            timeout=10,
        )
        assert reply.status_code == 201, reply.text

    def conversation_id(self, phone: str) -> int:
        with session_scope(self.context.sessions) as session:
            found = session.scalar(
                select(Conversation.id).where(
                    Conversation.business_id == self.business_id, Conversation.phone == phone
                )
            )
        assert found is not None, f"no conversation with {phone}"
        return int(found)


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[Live]:
    """The app on a real port, with its dispatcher and the real clock; public_url is its URL."""
    port = live_server.free_port()
    url = f"http://127.0.0.1:{port}"
    context = build_context(settings.model_copy(update={"public_url": url}), engine=engine)
    assert isinstance(context.clock, SystemClock)
    try:
        with session_scope(context.sessions) as session:
            now = context.clock.now()
            setup = make_business(session, context.carrier, now)
            clients = {
                first: make_client(
                    session, setup.business, now, first_name=first, last_name=last, cell_phone=phone
                )
                for first, last, phone in CLIENTS
            }
            seeded = Live(
                url=url,
                context=context,
                business_id=setup.business.id,
                sms_number=setup.number.phone_number,
                owner_email=owner_email_of(session, setup.business.id),
                owner_password=setup.owner_password,
                api_auth=setup.auth,
                clients=clients,
            )
        with live_server.serve(create_app(context=context, run_dispatcher=True), port) as served:
            assert served == url
            yield seeded
    finally:
        empty_all_tables(engine)


def owner_email_of(session: Session, business_id: int) -> str:
    email = session.scalar(
        select(StaffMember.email).where(
            StaffMember.business_id == business_id, StaffMember.role == "owner"
        )
    )
    assert email is not None
    return str(email)


@pytest.fixture
def staff_browser(browser: Any, live: Live) -> Iterator[Any]:
    """A browser context of its own (cookies, tabs) for one test; closed before the server
    stops, which ends its live event streams."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@dataclass
class TwoStaff:
    """The owner and a clerk (Casey, who may send), each signed in in a browser of their own."""

    owner: Any  # a page
    clerk: Any  # a page


CASEY_EMAIL, CASEY_PASSWORD = "casey@studio.example", "casey-password-1"


@pytest.fixture
def two_staff(browser: Any, live: Live) -> Iterator[TwoStaff]:
    with session_scope(live.context.sessions) as session:
        create_staff_member(
            session, business_id=live.business_id, email=CASEY_EMAIL, name="Casey",
            role="staff", can_send_sms=True, password=CASEY_PASSWORD,
            at=live.context.clock.now(),
        )  # fmt: skip
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        for context in contexts:
            context.set_default_timeout(TIMEOUT_MS)
        owner, clerk = (context.new_page() for context in contexts)
        yield TwoStaff(owner, clerk)
    finally:
        for context in contexts:
            context.close()


# ---------------------------------------------------------------------------- TestClient


@pytest.fixture
def web(context: AppContext) -> Iterator[TestClient]:
    """The app in-process on the rolled-back context. https, like public_url: the session
    cookie is Secure there and would not be sent back over http."""
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf field on the page"
    return found.group(1)


def open_conversation(client: TestClient, conversation_id: int) -> httpx.Response:
    """Open a conversation as a browser does: GET the page (which changes nothing), then
    POST /read with the page's token, as its script does once the page is shown."""
    page = client.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200, page.text
    read = client.post(
        f"/conversations/{conversation_id}/read", data={"csrf": READ_TOKEN.findall(page.text)[0]}
    )
    assert read.status_code == 200, read.text
    return page


READ_TOKEN = re.compile(r'<article class="conversation" [^>]*data-csrf="([^"]+)"')


def sign_in(client: TestClient, email: str, password: str) -> httpx.Response:
    """Log in through the form, as a browser would (GET the form, POST it with its token)."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )


@dataclass
class Shop:
    """A business whose owner and a clerk (a staff member who may send) are signed in, each
    in a TestClient of their own that asks for HTML."""

    business: Business
    owner: TestClient
    clerk: TestClient


CLERK_EMAIL, CLERK_PASSWORD = "clerk@studio.example", "clerk-password-1"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> Iterator[Shop]:
    now = clock.now()
    setup = make_business(session, context.carrier, now)
    (owner_email,) = [m.email for m in list_staff(session, setup.business.id)]
    create_staff_member(
        session, business_id=setup.business.id, email=CLERK_EMAIL, name="Casey",
        role="staff", can_send_sms=True, password=CLERK_PASSWORD, at=now,
    )  # fmt: skip
    session.commit()
    app = create_app(context=context, run_dispatcher=False)
    html = {"Accept": "text/html"}
    with (
        TestClient(app, base_url="https://testserver", headers=html) as owner,
        TestClient(app, base_url="https://testserver", headers=html) as clerk,
    ):
        assert sign_in(owner, owner_email, setup.owner_password).status_code == 303
        assert sign_in(clerk, CLERK_EMAIL, CLERK_PASSWORD).status_code == 303
        yield Shop(setup.business, owner, clerk)
