"""The owner and staff pages beyond the inbox, over HTTP in-process (Starlette's TestClient on
the rolled-back database): All Clients and profiles, SMS history and its CSV, usage and its
warnings, settings (SMS number, help text, API keys) and staff. Signed in through the login
form like a browser; every form posted with the CSRF token scraped from the page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import list_api_keys
from messagecenter.app import create_app
from messagecenter.businesses.queries import active_number
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.carriers.keyword_replies import REPLIES
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import history
from messagecenter.http.readable import phone_text
from messagecenter.models import (
    ApiKey,
    Business,
    Client,
    Conversation,
    Message,
    SmsNumber,
    StaffMember,
)
from messagecenter.numbers.service import suggest_numbers
from messagecenter.sending.compose import Outgoing, Sender, send_message, send_messages
from messagecenter.sms.keywords import Keyword
from messagecenter.staff.service import create_staff_member, hash_password, list_staff
from tests.conftest import START
from tests.factories import SetUp, make_business, make_client, text_from
from tests.web.flash_text import flashes_of

HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "staff-password-1"
PICTURE = "https://media.example.test/p.jpg"
MARIA, JAMES, STRANGER = "+12125550142", "+12125550143", "+12125550199"


# ---------------------------------------------------------------------------- helpers


class Browser:
    """One signed-in person: a TestClient with its own cookies, and the form token."""

    def __init__(self, app: FastAPI) -> None:
        self.http = TestClient(app, base_url="https://testserver")
        self.csrf = ""

    def sign_in(self, email: str, password: str) -> int:
        token = CSRF.search(self.http.get("/login").text)
        assert token, "no csrf field on the login page"
        answer = self.http.post(
            "/login",
            data={"email": email, "password": password, "csrf": token.group(1)},
            follow_redirects=False,
        )
        if answer.status_code == 303:
            found = CSRF.search(self.get("/clients").text)
            assert found
            self.csrf = found.group(1)
        return answer.status_code

    def get(self, path: str, **kw: Any) -> Any:
        return self.http.get(path, headers=HTML, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
        form = {"csrf": self.csrf, **(data or {})}
        kw.setdefault("follow_redirects", False)
        return self.http.post(path, data=form, headers=HTML, **kw)


class _Text(HTMLParser):
    """Visible text of an element found by id (or of the whole page), and table rows."""

    def __init__(self, element_id: str | None) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0 if element_id is None else -1
        self.parts: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.depth < 0 and found.get("id") == self.element_id:
            self.depth = 0
        if self.depth < 0:
            return
        if tag not in ("br", "input", "img", "meta", "link", "hr"):
            self.depth += 1
        if tag == "tr":
            self.rows.append({"attrs": found, "cells": []})
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.depth <= 0:
            return
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        self.depth -= 1
        if self.depth == 0 and self.element_id is not None:
            self.depth = -2  # done with the element

    def handle_data(self, data: str) -> None:
        if self.depth > 0 or (self.depth == 0 and self.element_id is None):
            self.parts.append(data)
            if self._cell is not None:
                self._cell.append(data)


def text_of(html: str, element_id: str | None = None) -> str:
    parser = _Text(element_id)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def rows_of(html: str, element_id: str) -> list[dict[str, Any]]:
    parser = _Text(element_id)
    parser.feed(html)
    return [r for r in parser.rows if r["cells"] and r["attrs"] != {}]


def csv_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---------------------------------------------------------------------------- the world


@dataclass
class Shop:
    setup: SetUp
    owner: StaffMember
    clerk: StaffMember  # role staff, may send
    clients: dict[str, Client]
    outsider_email: str  # the other business's owner
    other: SetUp
    other_client: Client

    @property
    def business(self) -> Business:
        return self.setup.business


@pytest.fixture
def app(context: AppContext) -> FastAPI:
    return create_app(context=context, run_dispatcher=False)


@pytest.fixture
def signed_in(app: FastAPI) -> Callable[[str, str], Browser]:
    def sign(email: str, password: str) -> Browser:
        person = Browser(app)
        assert person.sign_in(email, password) == 303, f"{email} could not sign in"
        return person

    return sign


def _owner_of(session: Session, business_id: int) -> StaffMember:
    return next(m for m in list_staff(session, business_id) if m.role == "owner")


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> Shop:
    now = clock.now()
    setup = make_business(session, context.carrier, now, allowance=100)
    other = make_business(session, context.carrier, now, business_phone="+13125550100")
    owner = _owner_of(session, setup.business.id)
    owner.password_hash = hash_password(PASSWORD)
    clerk = create_staff_member(
        session, business_id=setup.business.id, email="clerk@studio.example", name="Casey Clerk",
        role="staff", can_send_sms=True, password=PASSWORD, at=now,
    )  # fmt: skip
    clients = {
        "Maria": make_client(session, setup.business, now, first_name="Maria", cell_phone=MARIA),
        "James": make_client(
            session, setup.business, now, first_name="James", last_name="Chen", cell_phone=JAMES
        ),
        "Tom": make_client(
            session, setup.business, now, first_name="Tom", last_name="Baker", cell_phone=None
        ),
    }
    other_client = make_client(session, other.business, now, first_name="Olga", cell_phone=MARIA)
    other_owner = _owner_of(session, other.business.id)
    other_owner.password_hash = owner.password_hash
    session.commit()
    return Shop(setup, owner, clerk, clients, other_owner.email, other, other_client)


@pytest.fixture
def owner(shop: Shop, signed_in: Callable[[str, str], Browser]) -> Browser:
    return signed_in(shop.owner.email, PASSWORD)


@pytest.fixture
def clerk(shop: Shop, signed_in: Callable[[str, str], Browser]) -> Browser:
    return signed_in(shop.clerk.email, PASSWORD)


# ---------------------------------------------------------------------------- every page


def test_each_page_renders_for_the_owner(shop: Shop, owner: Browser) -> None:
    maria = shop.clients["Maria"]
    expected = {
        "/clients": ["All Clients", "Maria Lopez", "James Chen", "Tom Baker", "3 clients"],
        "/clients/new": ["New client", "Cell phone"],
        f"/clients/{maria.id}": ["Maria Lopez", MARIA, "Text Maria", "Consent history"],  # value=
        "/history": ["SMS history", "Download CSV"],
        "/usage": ["Usage this month", "of 100 messages used", "Per day"],
        "/settings": [
            "SMS number",
            national(shop.setup.number.phone_number),
            "Answers to STOP, START and HELP",
            "API keys",
        ],
        "/staff": ["Staff", "Casey Clerk", "Add a staff member"],
    }
    for path, words in expected.items():
        page = owner.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        text = text_of(page.text)
        for word in words:
            assert word in text or f'value="{word}"' in page.text, f"{word!r} not on {path}"
        # Owner navigation includes Settings and Staff.
        assert 'href="/settings"' in page.text and 'href="/staff"' in page.text


def test_the_pages_need_a_signed_in_staff_member(app: FastAPI, shop: Shop) -> None:
    anonymous = Browser(app)
    for path in ("/clients", f"/clients/{shop.clients['Maria'].id}", "/history", "/history.csv",
                 "/usage", "/settings", "/staff"):  # fmt: skip
        page = anonymous.get(path, follow_redirects=False)
        assert (page.status_code, page.headers.get("location")) == (303, "/login"), path
    check = anonymous.http.get("/app/check-cell-phone", params={"phone": MARIA})
    assert check.status_code == 401 and check.json()["error"]["code"] == "not_authenticated"


def test_settings_and_staff_are_403_for_a_staff_role_member(
    session: Session, shop: Shop, clerk: Browser
) -> None:
    for path in ("/settings", "/staff"):
        page = clerk.get(path)
        assert page.status_code == 403, path
        assert "Only the business owner" in page.text
    for path, data in [
        ("/settings/keyword-answers", {"answered_by": "app"}),
        ("/settings/api-keys", {"name": "Sneaky"}),
        ("/settings/number", {"phone_number": shop.setup.number.phone_number}),
        (f"/settings/api-keys/{_key_ids(session, shop)[0]}/revoke", {}),
        ("/staff", {"email": "new@studio.example", "name": "New"}),
        (f"/staff/{shop.owner.id}", {"action": "deactivate"}),
    ]:
        assert clerk.post(path, data).status_code == 403, path
    session.expire_all()
    assert shop.setup.number.carrier_handles_keywords
    assert session.scalar(select(ApiKey).where(ApiKey.name == "Sneaky")) is None
    assert all(k.revoked_at is None for k in list_api_keys(session, shop.business.id))
    assert session.scalar(select(StaffMember).where(StaffMember.name == "New")) is None
    assert session.get(StaffMember, shop.owner.id).active  # type: ignore[union-attr]
    # The staff member's own pages work, without the owner's links.
    page = clerk.get("/clients")
    assert page.status_code == 200
    assert 'href="/settings"' not in page.text and 'href="/staff"' not in page.text
    for path in ("/history", "/usage", f"/clients/{shop.clients['Maria'].id}"):
        assert clerk.get(path).status_code == 200, path


def _key_ids(session: Session, shop: Shop) -> list[int]:
    return [k.id for k in list_api_keys(session, shop.business.id)]


def test_another_business_staff_get_404_for_our_client(
    session: Session, shop: Shop, signed_in: Callable[[str, str], Browser], clock: FrozenClock
) -> None:
    text_from(session, shop.setup.number, MARIA, "Our secret", clock.now())
    session.commit()
    outsider = signed_in(shop.outsider_email, PASSWORD)
    maria = shop.clients["Maria"]
    assert outsider.get(f"/clients/{maria.id}").status_code == 404
    edit = {"first_name": "Hacked", "last_name": "", "email": "", "cell_phone": "+12125550100"}
    assert outsider.post(f"/clients/{maria.id}", edit).status_code == 404
    assert outsider.post(f"/clients/{maria.id}/text").status_code == 404
    session.refresh(maria)
    assert (maria.first_name, maria.cell_phone) == ("Maria", MARIA)
    # Their All Clients report and history are theirs alone.
    report = outsider.get("/clients").text
    assert "Olga" in report and "Maria Lopez" not in report and "James Chen" not in report
    for params in ({}, {"client_id": str(maria.id)}):
        page = outsider.get("/history", params=params)
        assert page.status_code == 200 and "Our secret" not in page.text
    assert "Our secret" not in outsider.get("/history.csv").text


# ---------------------------------------------------------------------------- clients


@pytest.fixture
def foreign_shop(
    session: Session, context: AppContext, clock: FrozenClock, request: pytest.FixtureRequest
) -> tuple[Business, Client, str]:
    """A GB or AU business with one client on a mobile, and that country's landline."""
    country = request.param
    spec = {
        "GB": ("Europe/London", "+442079460001", "07911 123456", "020 7946 0000"),
        "AU": ("Australia/Sydney", "+61255501299", "0412 345 678", "02 5550 1234"),
    }[country]
    timezone, business_phone, mobile, landline = spec
    created = create_business(
        session,
        NewBusiness(
            name=f"{country} Studio", country=country, timezone=timezone,
            business_phone=business_phone, monthly_allowance=100, overage_policy="hard_stop",
            overage_price_per_unit=Decimal("0.05"), owner_email=f"owner@{country.lower()}.example",
        ),
        clock.now(),
        owner_password=PASSWORD,
    )  # fmt: skip
    client = make_client(
        session, created.business, clock.now(), first_name="Pat", last_name="Lee", cell_phone=mobile
    )
    session.commit()
    return created.business, client, landline


@pytest.mark.parametrize("foreign_shop", ["GB", "AU"], indirect=True)
def test_a_landline_is_refused_with_the_reason_and_nothing_changes(
    session: Session, foreign_shop: tuple[Business, Client, str],
    signed_in: Callable[[str, str], Browser],
) -> None:  # fmt: skip
    business, client, landline = foreign_shop
    before = (client.first_name, client.last_name, client.email, client.cell_phone)
    owner = signed_in(f"owner@{business.country.lower()}.example", PASSWORD)
    answer = owner.post(
        f"/clients/{client.id}",
        {"first_name": "Patricia", "last_name": "Lee", "email": "pat@example.com",
         "cell_phone": landline, "sms_reminders": "1"},
    )  # fmt: skip
    assert answer.status_code == 400
    error = text_of(answer.text, "form-error")
    assert "landline" in error and landline in error
    assert "landline" in text_of(answer.text, "cell-phone-check")
    assert 'aria-invalid="true"' in answer.text
    assert f'value="{landline}"' in answer.text  # what was typed stays in the form
    session.refresh(client)
    assert (client.first_name, client.last_name, client.email, client.cell_phone) == before


@pytest.mark.parametrize(
    ("foreign_shop", "typed", "e164"),
    [("GB", "07400 123456", "+447400123456"), ("AU", "0491 570 156", "+61491570156")],
    indirect=["foreign_shop"],
)
def test_a_valid_mobile_saves_as_e164(
    session: Session, foreign_shop: tuple[Business, Client, str],
    signed_in: Callable[[str, str], Browser], typed: str, e164: str,
) -> None:  # fmt: skip
    business, client, _ = foreign_shop
    owner = signed_in(f"owner@{business.country.lower()}.example", PASSWORD)
    answer = owner.post(
        f"/clients/{client.id}",
        {"first_name": "Pat", "last_name": "Lee", "email": "", "cell_phone": typed},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"/clients/{client.id}")
    session.refresh(client)
    assert client.cell_phone == e164
    page = owner.get(answer.headers["location"])
    assert "Saved." in page.text and f'value="{e164}"' in page.text


@pytest.mark.parametrize("foreign_shop", ["GB"], indirect=True)
def test_check_cell_phone_says_why(
    foreign_shop: tuple[Business, Client, str], signed_in: Callable[[str, str], Browser]
) -> None:
    business, _, landline = foreign_shop
    owner = signed_in(f"owner@{business.country.lower()}.example", PASSWORD)

    def check(phone: str) -> dict[str, Any]:
        answer = owner.http.get("/app/check-cell-phone", params={"phone": phone})
        assert answer.status_code == 200
        return dict(answer.json())

    landline_check = check(landline)
    assert landline_check["ok"] is False and "landline" in landline_check["message"]
    assert check("0800 123 4567")["message"].endswith(
        "is a toll-free number, which cannot receive text messages: enter the client's mobile "
        "number."
    )
    assert "not a valid phone number" in check("07400 12")["message"]
    assert check("07911 123456") == {
        "ok": True, "message": "Will be saved as +44 7911 123456", "e164": "+447911123456",
    }  # fmt: skip
    assert check("  ") == {"ok": True, "message": "", "e164": None}


def test_a_new_client_is_created_and_a_bad_phone_keeps_what_was_typed(
    session: Session, shop: Shop, owner: Browser
) -> None:
    refused = owner.post(
        "/clients", {"first_name": "Nina", "last_name": "Park", "cell_phone": "555"}
    )
    assert refused.status_code == 400
    assert 'value="Nina"' in refused.text and "not a valid phone number" in refused.text
    created = owner.post(
        "/clients", {"first_name": "Nina", "last_name": "Park", "cell_phone": "(212) 555-0150"}
    )
    assert created.status_code == 303
    nina = session.scalar(select(Client).where(Client.first_name == "Nina"))
    assert nina is not None and nina.business_id == shop.business.id
    assert nina.cell_phone == "+12125550150"
    assert created.headers["location"] == f"/clients/{nina.id}"
    assert "Saved." in flashes_of(owner.get(created.headers["location"]).text)


def test_text_a_client_opens_their_conversation(
    session: Session, shop: Shop, owner: Browser
) -> None:
    james = shop.clients["James"]
    profile = owner.get(f"/clients/{james.id}")
    assert "Text James" in profile.text
    opened = owner.post(f"/clients/{james.id}/text")
    assert opened.status_code == 303
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.business_id == shop.business.id, Conversation.phone == JAMES
        )
    )
    assert conversation is not None and conversation.client_id == james.id
    assert opened.headers["location"] == f"/conversations/{conversation.id}"
    page = owner.get(opened.headers["location"])
    assert page.status_code == 200 and "James Chen" in page.text
    # Again: the same conversation, not a second one.
    assert owner.post(f"/clients/{james.id}/text").headers["location"] == opened.headers["location"]
    # Opened, nothing sent yet: All Clients shows no last message for James.
    rows = {
        r["cells"][0]: r["cells"] for r in rows_of(owner.get("/clients").text, "clients-report")
    }
    assert rows["James Chen"][5] == "\u2014"


def test_text_a_client_joins_the_conversation_they_started(
    session: Session, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    text_from(session, shop.setup.number, MARIA, "Hi!", clock.now())
    session.commit()
    started = session.scalar(
        select(Conversation.id).where(
            Conversation.phone == MARIA, Conversation.business_id == shop.business.id
        )
    )
    opened = owner.post(f"/clients/{shop.clients['Maria'].id}/text")
    assert opened.headers["location"] == f"/conversations/{started}"


def test_a_client_without_a_cell_phone_has_no_text_button(shop: Shop, owner: Browser) -> None:
    tom = shop.clients["Tom"]
    assert "Text Tom" not in owner.get(f"/clients/{tom.id}").text
    back = owner.post(f"/clients/{tom.id}/text")
    assert (back.status_code, back.headers["location"]) == (303, f"/clients/{tom.id}")


def test_all_clients_filters_and_search(session: Session, shop: Shop, owner: Browser) -> None:
    text_from(session, shop.setup.number, JAMES, "STOP", START)
    session.commit()

    def names(**params: str) -> list[str]:
        page = owner.get("/clients", params=params)
        assert page.status_code == 200
        return [r["cells"][0] for r in rows_of(page.text, "clients-report")]

    assert names() == ["Tom Baker", "James Chen", "Maria Lopez"]
    assert names(show="no_valid_cell_phone") == ["Tom Baker"]
    assert names(show="unsubscribed") == ["James Chen"]
    assert names(q="chen") == ["James Chen"]
    assert names(q="nobody") == []
    page = owner.get("/clients", params={"show": "unsubscribed"})
    row = rows_of(page.text, "clients-report")[0]["cells"]
    assert row[4] == f"Unsubscribed {START:%b} {START.day}, {START.year} (STOP)"  # Nov 16, 2026
    assert row[3] == "Yes"
    tom = rows_of(owner.get("/clients").text, "clients-report")[0]["cells"]
    assert tom[3] == "No — No cell phone on file"
    assert owner.get("/clients", params={"show": "everything"}).status_code == 400


# ---------------------------------------------------------------------------- history


@pytest.fixture
def chatter(session: Session, shop: Shop, clock: FrozenClock) -> dict[str, int]:
    """A week of messages: inbound, staff and automated replies, an MMS, a STOP."""
    t0 = datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    business = shop.business
    maria, james = shop.clients["Maria"], shop.clients["James"]
    text_from(session, shop.setup.number, MARIA, "Can I move my 3pm?", t0)
    send_message(session, business, body="Yes, 4pm is free", sender=Sender.staff(shop.clerk.id),
                 at=t0 + timedelta(hours=1), client=maria)  # fmt: skip
    text_from(session, shop.setup.number, JAMES, "Are you open Sunday?", t0 + timedelta(days=1))
    send_message(session, business, body="Reminder: yoga at 9", sender=Sender.automated(),
                 at=t0 + timedelta(days=2), client=maria, media_urls=[PICTURE])  # fmt: skip
    send_message(session, business, body="Sunday 10 to 4", sender=Sender.staff(shop.owner.id),
                 at=t0 + timedelta(days=3), client=james)  # fmt: skip
    text_from(session, shop.setup.number, JAMES, "STOP", t0 + timedelta(days=4))
    text_from(session, shop.setup.number, STRANGER, "Wrong number?", t0 + timedelta(days=5))
    text_from(session, shop.other.number, MARIA, "Other studio", t0 + timedelta(days=2))
    session.commit()
    return {"maria": maria.id, "james": james.id}


CARRIER = REPLIES[Keyword.OPT_OUT]  # the carrier's automatic answer to STOP
ASK, YES, SUNDAY, REMIND = (
    "Can I move my 3pm?",
    "Yes, 4pm is free",
    "Are you open Sunday?",
    ("Reminder: yoga at 9"),
)
OPEN, STOP, WRONG = "Sunday 10 to 4", "STOP", "Wrong number?"
# Each filter and the bodies it shows, newest first. The texts are sent at 15:00 UTC, the same
# day in UTC and in the business's time zone.
HISTORY_FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({}, [WRONG, CARRIER, STOP, OPEN, REMIND, SUNDAY, YES, ASK]),
    ({"direction": "inbound"}, [WRONG, STOP, SUNDAY, ASK]),
    ({"direction": "outbound", "since": "2026-11-10"}, [CARRIER, OPEN, REMIND]),
    ({"since": "2026-11-10", "until": "2026-11-12"}, [OPEN, REMIND, SUNDAY]),
    ({"status": "received"}, [WRONG, STOP, SUNDAY, ASK]),
    ({"status": "delivered"}, []),
    ({"sender": "automated"}, [REMIND]),
    ({"sender": "carrier"}, [CARRIER]),
    ({"sender": "client", "until": "2026-11-10"}, [SUNDAY, ASK]),
    ({"client_id": "james"}, [CARRIER, STOP, OPEN, SUNDAY]),
    ({"client_id": "maria", "direction": "outbound"}, [REMIND, YES]),
    ({"sender": "staff:clerk"}, [YES]),
    ({"sender": "staff:owner", "client_id": "maria"}, []),
    ({"sender": "staff:owner", "client_id": "james", "since": "2026-11-12"}, [OPEN]),
]


def _history_params(spec: dict[str, str], shop: Shop, ids: dict[str, int]) -> dict[str, str]:
    params = dict(spec)
    if "client_id" in params:
        params["client_id"] = str(ids[params["client_id"]])
    if params.get("sender", "").startswith("staff:"):
        who = {"clerk": shop.clerk.id, "owner": shop.owner.id}[params["sender"][6:]]
        params["sender"] = f"staff:{who}"
    return params


def test_history_filters_and_the_csv_rows_equal_the_filtered_rows(
    shop: Shop, owner: Browser, chatter: dict[str, int]
) -> None:
    for spec, bodies in HISTORY_FILTERS:
        _check_history_filter(shop, owner, chatter, spec, bodies)


def _check_history_filter(
    shop: Shop, owner: Browser, chatter: dict[str, int], spec: dict[str, str], bodies: list[str]
) -> None:
    page = owner.get("/history", params=_history_params(spec, shop, chatter))
    assert page.status_code == 200
    shown = [r["cells"] for r in rows_of(page.text, "history-table")]
    # Date, client, In/Out, sender, status, units, body.
    assert [cells[6] for cells in shown] == bodies, spec

    # The totals are those of exactly these rows.
    units = sum(int(cells[5]) for cells in shown)
    inbound = sum(cells[2] == "In" for cells in shown)
    assert text_of(page.text, "totals") == (
        f"{len(shown)} messages · {inbound} from clients · {len(shown) - inbound} to "
        f"clients · {units} units"
    ), spec

    # The page's own Download CSV link carries the same filters.
    link = re.search(r'id="csv-link" href="([^"]+)"', page.text)
    assert link
    exported = owner.get(unescape(link.group(1)))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith('attachment; filename="sms-history-')
    parsed = csv_of(exported.text)
    assert parsed[0] == history.CSV_COLUMNS
    column = {name: n for n, name in enumerate(history.CSV_COLUMNS)}
    # Oldest first: the table's rows in reverse, the same times (the page's <time datetime>,
    # written in the business's zone), bodies, units and senders.
    zone = ZoneInfo(shop.business.timezone)
    table = page.text[page.text.find('id="history-table"') :] if shown else ""
    times = [
        datetime.fromisoformat(at).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        for at in re.findall(r'<time datetime="([^"]+)"', table)
    ]
    assert [
        (row[column["date"]], row[column["body"]], row[column["units"]], row[column["sender"]])
        for row in parsed[1:]
    ] == [
        (at, cells[6], cells[5], cells[3])
        for at, cells in reversed(list(zip(times, shown, strict=True)))
    ], spec


def test_history_shows_sender_status_and_units(
    shop: Shop, owner: Browser, chatter: dict[str, int]
) -> None:
    cells = {
        r["cells"][6]: r["cells"] for r in rows_of(owner.get("/history").text, "history-table")
    }
    assert cells["Yes, 4pm is free"][2:6] == ["Out", "Casey Clerk", "Queued", "1"]
    assert cells["Reminder: yoga at 9"][2:6] == ["Out", "Automated", "Queued", "3"]
    assert cells["Can I move my 3pm?"][1] == "Maria Lopez (212) 555-0142"
    assert cells["Can I move my 3pm?"][2:6] == ["In", "Client", "Received", "1"]
    assert cells["Wrong number?"][1] == "(unidentified) (212) 555-0199"
    carrier = [c for c in cells.values() if c[3] == "Carrier (automatic reply)"]
    assert len(carrier) == 1 and carrier[0][5] == "0"
    assert "Other studio" not in cells
    # The sender choices: the business's staff and keys, never another business's.
    page = owner.get("/history").text
    assert f'value="staff:{shop.clerk.id}"' in page
    assert "Olga" not in page


def test_history_pages_hold_fifty_rows(
    session: Session, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    for n in range(55):
        text_from(session, shop.setup.number, MARIA, f"Note {n}", START + timedelta(minutes=n))
    session.commit()
    first = owner.get("/history")
    assert len(rows_of(first.text, "history-table")) == 50
    assert "Page 1 of 2" in first.text
    assert 'page=2">Next</a>' in first.text and "Previous</a>" not in first.text
    second = rows_of(owner.get("/history", params={"page": "2"}).text, "history-table")
    assert [r["cells"][6] for r in second] == [f"Note {n}" for n in range(4, -1, -1)]
    # The CSV is not paged.
    assert len(csv_of(owner.get("/history.csv").text)) == 56


def test_history_finds_any_client_to_filter_on_past_the_first_500(
    session: Session, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    for n in range(500):  # "Aaron…" sort before Zoe: she is not among the first 500
        make_client(session, shop.business, clock.now(), first_name="Aaron", last_name=f"{n:03}",
                    cell_phone=None)  # fmt: skip
    zoe = make_client(session, shop.business, clock.now(), first_name="Zoe", last_name="Zed",
                      cell_phone="+12125550188")  # fmt: skip
    session.commit()

    def options(html: str) -> list[str]:
        select = html.split('id="client_id"', 1)[1].split("</select>", 1)[0]
        return re.findall(r'<option value="(\d+)"', select)

    assert str(zoe.id) not in options(owner.get("/history").text)
    for typed in ("zoe", "(212) 555-0188", "0188"):
        found = owner.get("/history", params={"find": typed})
        assert options(found.text) == [str(zoe.id)], typed
        assert f'id="find" name="find" type="search" maxlength="100" value="{typed}"' in found.text
    # Filtering on her keeps her chosen, whatever the first 500 are.
    chosen = owner.get("/history", params={"client_id": str(zoe.id)}).text
    assert f'<option value="{zoe.id}" selected>' in chosen


def test_history_says_how_to_write_a_date(shop: Shop, owner: Browser) -> None:
    page = owner.get("/history", params={"since": "30/11/2026"})
    assert page.status_code == 400 and "Dates are written like 2026-11-30." in page.text
    assert owner.get("/history.csv", params={"since": "30/11/2026"}).status_code == 400


def test_history_dates_are_the_business_days(
    session: Session, context: AppContext, clock: FrozenClock,
    signed_in: Callable[[str, str], Browser],
) -> None:  # fmt: skip
    """A Los Angeles business texting at 23:30 on 30 November sees it on the 30th: in its
    history filter (as on its usage chart, which counts days in its time zone)."""
    created = create_business(
        session,
        NewBusiness(
            name="West Studio", country="US", timezone="America/Los_Angeles",
            business_phone="+13105550100", monthly_allowance=100, overage_policy="hard_stop",
            overage_price_per_unit=Decimal("0.05"), owner_email="owner@west.example",
        ),
        clock.now(),
        owner_password=PASSWORD,
    )  # fmt: skip
    chosen = suggest_numbers(session, created.business, context.carrier)[0]
    from messagecenter.numbers.service import enable_messaging

    number = enable_messaging(
        session, created.business, context.carrier, chosen, "https://mc.example.test", clock.now()
    )
    late = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 23:30 on 30 Nov in Los Angeles
    text_from(session, number, "+13105550142", "Late question", late)
    session.commit()
    owner = signed_in("owner@west.example", PASSWORD)
    page = owner.get("/history", params={"since": "2026-11-30", "until": "2026-11-30"})
    assert [r["cells"][6] for r in rows_of(page.text, "history-table")] == ["Late question"]


# ---------------------------------------------------------------------------- usage


def _usage_shop(
    session: Session, context: AppContext, clock: FrozenClock, *, used: int, allowance: int = 10,
    policy: str = "allow_overage", spending_cap: str | None = None,
) -> tuple[SetUp, str]:  # fmt: skip
    setup = make_business(
        session, context.carrier, clock.now(), business_phone="+16175550100",
        allowance=allowance, policy=policy, price="0.05", spending_cap=spending_cap,
    )  # fmt: skip
    owner = _owner_of(session, setup.business.id)
    owner.password_hash = hash_password(PASSWORD)
    for n in range(used):
        at = datetime(2026, 11, 2 + (n % 3) * 5, 12, n, tzinfo=UTC)  # the 2nd, 7th and 12th
        text_from(session, setup.number, "+16175550142", f"Text {n}", at)
    session.commit()
    return setup, owner.email


def test_usage_shows_used_remaining_overage_with_price_and_the_days_of_the_period(
    session: Session, context: AppContext, clock: FrozenClock,
    signed_in: Callable[[str, str], Browser],
) -> None:  # fmt: skip
    _, email = _usage_shop(session, context, clock, used=12)
    page = signed_in(email, PASSWORD).get("/usage")
    assert page.status_code == 200
    summary = text_of(page.text, "usage-summary")
    assert "12 of 10 messages used · 0 left" in summary
    assert "each unit costs $0.05. " in summary  # the currency shown, in the US way
    assert "Overage so far: 2 units = $0.10 ." in summary
    assert "Prices are in US dollars (USD)." in summary
    assert "Spending cap" not in summary
    assert "Billing period Nov 1 \u2013 Nov 30, 2026" in summary  # the last day, not the next
    assert 'aria-valuenow="100"' in page.text
    days = re.findall(r'<span class="sr">([^<]+)</span>', page.text)
    assert len(days) == 30  # every day of November, quiet ones too
    assert days[0] == "Nov 1: 0 in, 0 out"
    assert days[1] == "Nov 2: 4 in, 0 out"  # n = 0, 3, 6, 9
    assert days[6] == "Nov 7: 4 in, 0 out"
    assert days[11] == "Nov 12: 4 in, 0 out"
    assert days[29] == "Nov 30: 0 in, 0 out"


def test_usage_under_a_hard_stop_says_sending_stops(
    session: Session, context: AppContext, clock: FrozenClock,
    signed_in: Callable[[str, str], Browser],
) -> None:  # fmt: skip
    _, email = _usage_shop(session, context, clock, used=3, policy="hard_stop")
    page = signed_in(email, PASSWORD).get("/usage")
    summary = text_of(page.text, "usage-summary")
    assert "3 of 10 messages used · 7 left" in summary
    assert "sending stops until it renews" in summary
    assert "Overage" not in summary
    assert 'class="banner' not in page.text


def test_usage_shows_the_spending_cap_and_the_units_it_allows(
    session: Session, context: AppContext, clock: FrozenClock,
    signed_in: Callable[[str, str], Browser],
) -> None:  # fmt: skip
    _, email = _usage_shop(session, context, clock, used=3, spending_cap="0.25")
    summary = text_of(signed_in(email, PASSWORD).get("/usage").text, "usage-summary")
    assert "Spending cap: at most $0.25 of overage a month, 15 units in all" in summary


PAGES = ["/inbox", "/clients", "/clients/new", "/history", "/usage", "/settings", "/staff"]


@pytest.mark.parametrize(
    ("used", "policy", "banner"),
    [
        (7, "allow_overage", None),
        (8, "allow_overage", "8 of 10 messages used this month (80 % or more)."),
        (10, "allow_overage", "The monthly message allowance is used up (10 of 10). "
                              "Further messages are billed as overage."),
        (10, "hard_stop", "The monthly message allowance is used up (10 of 10). "
                          "Sending is paused until Dec 1, 2026."),
        # A cap of 0.25 at 0.05 a unit: 15 units in all, the warnings count toward them.
        (11, "allow_overage/0.25", None),
        (12, "allow_overage/0.25", "12 of the 15 units the spending cap allows used this "
                                   "month (80 % or more)."),
        (15, "allow_overage/0.25", "The monthly spending cap of $0.25 is reached (15 of 15 "
                                   "units). Sending is paused until Dec 1, 2026."),
    ],
)  # fmt: skip
def test_the_80_and_100_percent_banner_is_on_every_page(
    session: Session, context: AppContext, clock: FrozenClock,
    signed_in: Callable[[str, str], Browser], used: int, policy: str, banner: str | None,
) -> None:  # fmt: skip
    policy, _, cap = policy.partition("/")
    _, email = _usage_shop(
        session, context, clock, used=used, policy=policy, spending_cap=cap or None
    )
    owner = signed_in(email, PASSWORD)
    for path in PAGES:
        page = owner.get(path)
        assert page.status_code == 200, path
        found = re.search(r'<div class="banner[^"]*" role="status">(.*?)</div>', page.text, re.S)
        if banner is None:
            assert found is None, path
        else:
            assert found is not None, path
            assert " ".join(found.group(1).split()) == banner, path


# ---------------------------------------------------------------------------- settings


@pytest.fixture
def fresh(session: Session, clock: FrozenClock) -> tuple[Business, str]:
    """A business that has not turned Message Center on yet."""
    created = create_business(
        session,
        NewBusiness(
            name="Fresh Salon", country="US", timezone="America/Chicago",
            business_phone="+13125550177", monthly_allowance=100, overage_policy="hard_stop",
            overage_price_per_unit=Decimal("0.05"), owner_email="owner@fresh.example",
        ),
        clock.now(),
        owner_password=PASSWORD,
    )  # fmt: skip
    session.commit()
    return created.business, "owner@fresh.example"


def national(e164: str) -> str:
    """A number as the (US) business's pages show it: "(212) 555-0142"."""
    return phone_text(e164, "US")


def _suggested(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="phone_number" value="([^"]+)"', html)


def test_enabling_message_center_on_a_fresh_business_with_a_suggested_number(
    session: Session, fresh: tuple[Business, str], signed_in: Callable[[str, str], Browser]
) -> None:
    business, email = fresh
    owner = signed_in(email, PASSWORD)
    page = owner.get("/settings")
    assert "Message Center is not on yet" in page.text
    offered = _suggested(page.text)
    assert len(offered) == 5 and all(n.startswith("+1312555") for n in offered)
    assert business.business_phone not in offered

    # Not the business phone, not a number that was not offered.
    for refused in (business.business_phone, "+13125559876"):
        answer = owner.post("/settings/number", {"phone_number": refused})
        assert answer.status_code == 303
        shown = owner.get(answer.headers["location"])
        assert "is not one of the numbers offered" in flashes_of(shown.text, "error")
        assert active_number(session, business.id) is None

    answer = owner.post("/settings/number", {"phone_number": offered[2]})
    assert (answer.status_code, answer.headers["location"]) == (303, "/settings")
    number = active_number(session, business.id)
    assert number is not None and number.phone_number == offered[2]
    assert text_of(owner.get("/settings").text, "active-number") == national(offered[2])


def test_changing_the_number_warns_first_then_releases_the_old_one(
    session: Session, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    old = shop.setup.number.phone_number
    offered = _suggested(owner.get("/settings").text)
    assert old not in offered
    chosen = offered[0]

    # First the warning; nothing changes yet.
    asked = owner.post("/settings/number", {"phone_number": chosen})
    assert asked.status_code == 200  # the question, on this answer: no number in a URL
    number = active_number(session, shop.business.id)
    assert number is not None and number.phone_number == old
    warning = text_of(asked.text, "change-warning")
    assert f"Before you change to {national(chosen)}" in warning
    assert f"replies that clients send to {national(old)} will not reach you" in warning
    assert f"Yes, change to {national(chosen)}" in warning
    assert f"Keep {national(old)}" in warning

    # Then the confirmation changes it.
    done = owner.post("/settings/number", {"phone_number": chosen, "confirm": "yes"})
    assert (done.status_code, done.headers["location"]) == (303, "/settings")
    session.expire_all()
    number = active_number(session, shop.business.id)
    assert number is not None and number.phone_number == chosen
    old_row = session.scalar(select(SmsNumber).where(SmsNumber.phone_number == old))
    assert old_row is not None and old_row.status == "released"
    assert old_row.released_at == clock.now()
    page = owner.get("/settings").text
    assert text_of(page, "active-number") == national(chosen)
    section = text_of(page, "sms-number")
    assert re.search(rf"{re.escape(national(old))}\W.{{0,60}}released", section, re.I), (
        f"the old number is not shown as released: {section!r}"
    )


def test_texts_to_the_old_number_are_listed_as_unrouted(
    session: Session, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    old_number = shop.setup.number
    chosen = _suggested(owner.get("/settings").text)[0]
    owner.post("/settings/number", {"phone_number": chosen, "confirm": "yes"})
    session.expire_all()
    late = text_from(session, old_number, MARIA, "Are you still there?", clock.now())
    assert late.unrouted
    # Another business's late replies are not ours to see.
    theirs = shop.other.number
    theirs.status = "released"
    session.flush()
    text_from(session, theirs, JAMES, "Not for you", clock.now())
    session.commit()
    assert "1 text reached an old number" in text_of(owner.get("/settings").text, "unrouted")
    listed = text_of(owner.get("/settings/unrouted-texts").text, "unrouted-texts")
    assert national(old_number.phone_number) in listed and "Are you still there?" in listed
    assert "Not for you" not in listed
    # Nothing reached the business's conversations.
    assert "Are you still there?" not in owner.get("/history").text


def test_a_number_cannot_be_changed_to_one_that_was_not_offered(
    session: Session, shop: Shop, owner: Browser
) -> None:
    old = shop.setup.number.phone_number
    answer = owner.post("/settings/number", {"phone_number": "+12125559876", "confirm": "yes"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/settings")
    assert "is not one of the numbers offered" in flashes_of(owner.get("/settings").text)
    session.expire_all()
    number = active_number(session, shop.business.id)
    assert number is not None and number.phone_number == old


def test_who_answers_keywords_is_saved_and_said_plainly(
    session: Session, shop: Shop, owner: Browser
) -> None:
    page = owner.get("/settings").text
    assert "Now: the carrier answers them" in page  # Twilio's default
    saved = owner.post("/settings/keyword-answers", {"answered_by": "app"})
    assert (saved.status_code, saved.headers["location"]) == (303, "/settings")
    session.refresh(shop.setup.number)
    assert not shop.setup.number.carrier_handles_keywords
    page = owner.get("/settings").text
    assert "Now: Message Center answers them with your own texts" in page
    assert "Now: the app answers on" in owner.get("/settings/automated-messages").text

    refused = owner.http.post(
        "/settings/keyword-answers",
        data={"answered_by": "nobody", "csrf": owner.csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert refused.status_code == 400
    session.refresh(shop.setup.number)
    assert not shop.setup.number.carrier_handles_keywords  # unchanged
    owner.post("/settings/keyword-answers", {"answered_by": "carrier"})
    session.refresh(shop.setup.number)
    assert shop.setup.number.carrier_handles_keywords


def test_an_api_key_secret_is_shown_once_and_a_revoked_key_is_refused(
    session: Session, app: FastAPI, shop: Shop, owner: Browser
) -> None:
    created = owner.post("/settings/api-keys", {"name": "Booking system"})
    assert created.status_code == 200
    secret = text_of(created.text, "new-key")
    assert secret.startswith("mc_") and len(secret) > 30
    assert "it is not shown again" in created.text
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Booking system"))
    assert key is not None and key.business_id == shop.business.id
    assert secret not in (key.key_hash, key.prefix)  # only a hash is kept

    api = TestClient(app, base_url="https://testserver")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/usage", headers=bearer).status_code == 200
    # Never shown again.
    later = owner.get("/settings").text
    assert secret not in later and 'id="new-key"' not in later
    assert "Booking system" in later and f"{key.prefix}…" in later

    asked = owner.post(f"/settings/api-keys/{key.id}/revoke")
    assert asked.status_code == 200
    assert "Revoke the key “Booking system”" in text_of(asked.text, "revoke-confirm")
    assert api.get("/api/v1/usage", headers=bearer).status_code == 200  # not yet
    revoked = owner.post(f"/settings/api-keys/{key.id}/revoke", {"confirm": "yes"})
    assert (revoked.status_code, revoked.headers["location"]) == (303, "/settings")
    refused = api.get("/api/v1/usage", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "bad_api_key"
    row = rows_of(owner.get("/settings").text, "api-keys")
    assert any(r["cells"][0] == "Booking system" and r["cells"][3].startswith("Revoked")
               for r in row)  # fmt: skip


def test_an_owner_cannot_revoke_another_business_key(
    session: Session, app: FastAPI, shop: Shop, owner: Browser
) -> None:
    their_key = shop.other.api_key
    theirs = session.scalar(select(ApiKey).where(ApiKey.business_id == shop.other.business.id))
    assert theirs is not None
    for confirm in ("", "yes"):
        answer = owner.post(f"/settings/api-keys/{theirs.id}/revoke", {"confirm": confirm})
        assert answer.status_code == 404
    api = TestClient(app, base_url="https://testserver")
    assert (
        api.get("/api/v1/usage", headers={"Authorization": f"Bearer {their_key}"}).status_code
        == 200
    )


# ---------------------------------------------------------------------------- staff


def test_staff_added_permission_toggled_and_deactivated(
    session: Session, app: FastAPI, shop: Shop, owner: Browser, clock: FrozenClock
) -> None:
    added = owner.post(
        "/staff",
        {"name": "Dana Desk", "email": "Dana@Studio.example", "role": "staff", "can_send_sms": "1"},
    )
    assert added.status_code == 200
    note = text_of(added.text, "staff-added")
    found = re.search(r"dana@studio\.example can sign in with the password (\S+) —", note)
    assert found, note
    password = found.group(1)
    dana = session.scalar(select(StaffMember).where(StaffMember.email == "dana@studio.example"))
    assert dana is not None
    assert (dana.business_id, dana.role, dana.can_send_sms, dana.active) == (
        shop.business.id, "staff", True, True,
    )  # fmt: skip
    assert password not in owner.get("/staff").text  # shown once

    desk = Browser(app)
    assert desk.sign_in("dana@studio.example", password) == 303
    text_from(session, shop.setup.number, MARIA, "Hello?", clock.now())
    session.commit()
    conversation_id = session.scalar(
        select(Conversation.id).where(
            Conversation.business_id == shop.business.id, Conversation.phone == MARIA
        )
    )
    reply = f"/conversations/{conversation_id}/messages"
    assert desk.post(reply, {"body": "Hi Maria"}).status_code == 303

    # The owner takes the SMS permission away: her next reply is refused.
    assert owner.post(f"/staff/{dana.id}", {"action": "deny_send"}).status_code == 303
    session.refresh(dana)
    assert dana.can_send_sms is False
    row = next(r for r in rows_of(owner.get("/staff").text, "staff-table")
               if r["attrs"]["data-staff-id"] == str(dana.id))  # fmt: skip
    assert row["cells"][3] == "No"
    refused = desk.post(reply, {"body": "Hi again"})
    assert refused.status_code == 403
    assert "permission to send SMS" in refused.text
    owner.post(f"/staff/{dana.id}", {"action": "allow_send"})
    assert desk.post(reply, {"body": "Back again"}).status_code == 303

    # Deactivated: signed out at the next request, and no new sign-in.
    assert owner.post(f"/staff/{dana.id}", {"action": "deactivate"}).status_code == 303
    session.refresh(dana)
    assert dana.active is False
    kicked = desk.get("/inbox", follow_redirects=False)
    assert (kicked.status_code, kicked.headers["location"]) == (303, "/login")
    assert Browser(app).sign_in("dana@studio.example", password) == 401


def test_staff_role_changes_and_the_owner_cannot_lock_themself_out(
    session: Session, shop: Shop, owner: Browser, clerk: Browser
) -> None:
    assert owner.post(f"/staff/{shop.clerk.id}", {"action": "make_owner"}).status_code == 303
    session.refresh(shop.clerk)
    assert shop.clerk.role == "owner"
    assert clerk.get("/settings").status_code == 200  # an owner now
    owner.post(f"/staff/{shop.clerk.id}", {"action": "make_staff"})
    assert clerk.get("/settings").status_code == 403

    for action in ("deactivate", "make_staff"):
        answer = owner.post(f"/staff/{shop.owner.id}", {"action": action})
        assert (answer.status_code, answer.headers["location"]) == (303, "/staff")
        assert "cannot deactivate yourself" in flashes_of(owner.get("/staff").text, "error")
    session.refresh(shop.owner)
    assert (shop.owner.role, shop.owner.active) == ("owner", True)


def test_staff_of_another_business_cannot_be_changed(
    session: Session, shop: Shop, owner: Browser
) -> None:
    theirs = _owner_of(session, shop.other.business.id)
    assert owner.post(f"/staff/{theirs.id}", {"action": "deactivate"}).status_code == 404
    session.refresh(theirs)
    assert theirs.active is True
    assert theirs.email not in owner.get("/staff").text


def test_adding_staff_with_a_taken_email_says_so(shop: Shop, owner: Browser) -> None:
    answer = owner.post("/staff", {"name": "Again", "email": shop.clerk.email, "role": "staff"})
    assert answer.status_code == 303
    assert "already has a login" in owner.get(answer.headers["location"]).text


# ---------------------------------------------------------------------------- CSRF


def _posts(session: Session, shop: Shop) -> list[tuple[str, dict[str, str]]]:
    maria = shop.clients["Maria"]
    return [
        ("/clients", {"first_name": "Forged"}),
        (f"/clients/{maria.id}", {"first_name": "Forged", "cell_phone": MARIA}),
        (f"/clients/{maria.id}/text", {}),
        ("/settings/number", {"phone_number": "+12125550150", "confirm": "yes"}),
        ("/settings/keyword-answers", {"answered_by": "app"}),
        ("/settings/api-keys", {"name": "Forged"}),
        (f"/settings/api-keys/{_key_ids(session, shop)[0]}/revoke", {}),
        ("/staff", {"name": "Forged", "email": "forged@studio.example"}),
        (f"/staff/{shop.clerk.id}", {"action": "deactivate"}),
    ]


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_every_form_needs_the_csrf_token(
    session: Session, shop: Shop, owner: Browser, token: str
) -> None:
    for path, data in _posts(session, shop):
        answer = owner.http.post(
            path, data={**data, "csrf": token}, headers=HTML, follow_redirects=False
        )
        assert answer.status_code == 403, path
        assert "did not come from this site" in answer.text, path
    session.expire_all()
    assert session.scalar(select(Client).where(Client.first_name == "Forged")) is None
    assert session.scalar(select(ApiKey).where(ApiKey.name == "Forged")) is None
    assert session.scalar(select(StaffMember).where(StaffMember.name == "Forged")) is None
    assert all(k.revoked_at is None for k in session.scalars(select(ApiKey)))
    clerk = session.get(StaffMember, shop.clerk.id)
    assert clerk is not None and clerk.active
    assert session.get(SmsNumber, shop.setup.number.id).carrier_handles_keywords  # type: ignore[union-attr]
    assert session.scalar(select(Conversation).where(Conversation.phone == MARIA)) is None


# ---------------------------------------------------------------------------- quiet hours


def test_the_stricter_state_hours_switch_is_saved_from_settings(
    session: Session, shop: Shop, owner: Browser
) -> None:
    assert 'name="strict_state_hours" value="1" >' in owner.get("/settings").text  # off
    saved = owner.post("/settings/quiet-hours", {"strict_state_hours": "1"})
    assert (saved.status_code, saved.headers["location"]) == (303, "/settings")
    session.refresh(shop.business)
    assert shop.business.strict_state_hours
    assert 'name="strict_state_hours" value="1" checked>' in owner.get("/settings").text
    owner.post("/settings/quiet-hours", {})
    session.refresh(shop.business)
    assert not shop.business.strict_state_hours


def test_a_clients_time_zone_is_chosen_on_the_profile_and_a_bad_one_refused(
    session: Session, shop: Shop, owner: Browser
) -> None:
    maria = shop.clients["Maria"]
    edit = {"first_name": "Maria", "last_name": "Lopez", "cell_phone": MARIA}
    saved = owner.post(f"/clients/{maria.id}", edit | {"timezone": "America/Denver"})
    assert saved.status_code == 303, saved.text
    session.refresh(maria)
    assert maria.timezone == "America/Denver"
    assert '<option value="America/Denver" selected>' in owner.get(f"/clients/{maria.id}").text
    refused = owner.post(f"/clients/{maria.id}", edit | {"timezone": "Nowhere/Land"})
    assert refused.status_code == 400
    assert "is not a time zone" in text_of(refused.text, "form-error")
    session.refresh(maria)
    assert maria.timezone == "America/Denver"


def test_a_held_text_says_in_the_thread_and_the_history_when_it_goes(
    session: Session, shop: Shop, owner: Browser
) -> None:
    night = datetime(2026, 11, 16, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    (held,) = send_messages(
        session,
        shop.business,
        [Outgoing("Your class is tomorrow", client=shop.clients["Maria"], quiet_hours=True)],
        sender=Sender.automated(),
        at=night.astimezone(UTC),
    )
    assert isinstance(held, Message)
    session.commit()
    words = "Waits until 08:00 client time (Tue 17 Nov, America/New_York): quiet hours."
    assert words in text_of(owner.get(f"/conversations/{held.conversation_id}").text, "thread")
    assert words in text_of(owner.get("/history").text)
