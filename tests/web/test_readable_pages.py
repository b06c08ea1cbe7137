"""The staff pages write numbers and times the business's way: a US business reads
(212) 555-0142 and "Nov 30, 2026, 2:05 PM", a UK one 07400 123456 and "30 Nov 2026, 19:05",
a foreign number in international form; E.164 stays in the tooltip (and the CSV), ISO in
<time datetime>."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Conversation
from tests.factories import SetUp, make_business, make_client, text_from
from tests.web.conftest import owner_email_of, sign_in

US_CLIENT, US_SHOWN = "+12125550142", "(212) 555-0142"
UK_CLIENT, UK_SHOWN = "+447400123456", "07400 123456"
# 19:05 UTC on 30 November 2026: 14:05 in New York, 19:05 in London.
AT = datetime(2026, 11, 30, 19, 5, tzinfo=UTC)
NNBSP = "\u202f"  # CLDR's narrow no-break space before AM/PM

US = {"country": "US", "timezone": "America/New_York", "business_phone": "+12125550100"}
UK = {"country": "GB", "timezone": "Europe/London", "business_phone": "+442079460000"}


def visible(page: str) -> str:
    """The words a reader sees: no tags (so no tooltips, values or data attributes)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def tooltip(e164: str, shown: str) -> str:
    return f'<span class="phone" title="{e164}">{shown}</span>'


def open_shop(
    web: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    place: dict[str, str],
) -> SetUp:
    """A business of `place` whose owner is signed in on `web`, with a client who texted at
    AT and a stranger from the other country."""
    clock.set(AT)
    setup = make_business(session, context.carrier, clock.now(), **place)
    ours, foreign = (US_CLIENT, UK_CLIENT) if place is US else (UK_CLIENT, US_CLIENT)
    make_client(
        session, setup.business, clock.now(), first_name="Maria", last_name="Lopez",
        cell_phone=ours,
    )  # fmt: skip
    text_from(session, setup.number, ours, "Can I move my booking?", clock.now())
    text_from(session, setup.number, foreign, "Hello from abroad", clock.now())
    session.commit()
    signed = sign_in(web, owner_email_of(session, setup.business.id), setup.owner_password)
    assert signed.status_code == 303
    return setup


def conversation_of(session: Session, setup: SetUp, phone: str) -> int:
    found = session.scalar(
        select(Conversation.id).where(
            Conversation.business_id == setup.business.id, Conversation.phone == phone
        )
    )
    assert found is not None
    return int(found)


@pytest.mark.parametrize(
    ("place", "ours", "shown", "foreign", "foreign_shown"),
    [
        (US, US_CLIENT, US_SHOWN, UK_CLIENT, "+44 7400 123456"),
        (UK, UK_CLIENT, UK_SHOWN, US_CLIENT, "+1 212-555-0142"),
    ],
)
def test_each_business_reads_numbers_in_its_own_national_form_with_e164_in_the_tooltip(
    web: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    place: dict[str, str],
    ours: str,
    shown: str,
    foreign: str,
    foreign_shown: str,
) -> None:
    setup = open_shop(web, session, context, clock, place)
    maria = conversation_of(session, setup, ours)
    stranger = conversation_of(session, setup, foreign)

    inbox = web.get("/inbox").text
    assert tooltip(foreign, foreign_shown) in inbox  # an unidentified sender is their number
    page = web.get(f"/conversations/{maria}").text
    assert tooltip(ours, shown) in page  # the header and the client panel
    assert tooltip(foreign, foreign_shown) in web.get(f"/conversations/{stranger}").text
    assert tooltip(ours, shown) in web.get("/clients").text
    assert tooltip(ours, shown) in web.get("/history").text
    number = setup.number.phone_number
    assert f'id="active-number"><span class="phone" title="{number}">' in web.get("/settings").text
    # No page shows a number as E.164 text; the forms still carry what parses.
    for path in ("/inbox", f"/conversations/{maria}", f"/conversations/{stranger}", "/clients",
                 "/history", "/settings", f"/conversations/{maria}/print"):  # fmt: skip
        words = visible(web.get(path).text)
        for e164 in (ours, foreign, number):
            assert e164 not in words, (path, e164)
    # The CSV keeps E.164, for spreadsheets and other systems.
    assert ours in web.get("/history.csv").text


def test_a_phone_search_marks_the_number_in_its_national_form(
    web: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    open_shop(web, session, context, clock, UK)  # the US number is foreign here
    for typed, marked in [
        ("555 0142", "+1 212-<mark>555-0142</mark>"),
        ("(212) 555-0142", "+1 <mark>212-555-0142</mark>"),
        ("+1 212 555 0142", "+<mark>1 212-555-0142</mark>"),
    ]:
        listed = web.get("/inbox", params={"q": typed}).text
        assert tooltip(US_CLIENT, marked) in listed, typed


@pytest.mark.parametrize(
    ("place", "thread_time", "full_time", "print_time", "day"),
    [
        (US, f"Nov 30, 2:05{NNBSP}PM", f"Nov 30, 2026, 2:05{NNBSP}PM",
         f"Nov 30, 2026, 2:05:00{NNBSP}PM", "Nov 30, 2026"),
        (UK, "30 Nov, 19:05", "30 Nov 2026, 19:05", "30 Nov 2026, 19:05:00", "30 Nov 2026"),
    ],
)  # fmt: skip
def test_times_read_in_the_business_zone_and_its_countrys_style(
    web: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    place: dict[str, str],
    thread_time: str,
    full_time: str,
    print_time: str,
    day: str,
) -> None:
    setup = open_shop(web, session, context, clock, place)
    maria = conversation_of(session, setup, US_CLIENT if place is US else UK_CLIENT)
    machine = '<time datetime="2026-11-30T19:05:00+00:00">'

    assert f"{machine}{thread_time}</time>" in web.get(f"/conversations/{maria}").text
    assert f"{machine}{thread_time}</time>" in web.get("/inbox").text
    assert f"{machine}{full_time}</time>" in web.get("/history").text
    assert f"{machine}{print_time}</time>" in web.get(f"/conversations/{maria}/print").text
    assert f"{thread_time}</a>" in web.get("/clients").text  # the last message's time
    # A day alone: the API key made with the business.
    assert f"<td>{day}</td>" in web.get("/settings").text
    # The billing period's days.
    usage = visible(web.get("/usage").text)
    period = "Nov 1 \u2013 Nov 30, 2026" if place is US else "1 Nov \u2013 30 Nov 2026"
    assert f"Billing period {period}" in usage
