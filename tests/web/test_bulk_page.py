"""Bulk sends in the web app: preview (whom it reaches and skips), send from the preview,
progress, cancel the rest; refused input shown with the form kept; staff without the send
permission cannot send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.models import (
    BulkSend,
    Client,
    Conversation,
    Message,
    SmsNumber,
    StaffMember,
)
from tests.factories import count, make_client, text_from
from tests.web.conftest import CLERK_EMAIL, Shop, csrf_of

PATH = "/bulk-sends"


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form(page_html: str, **more: object) -> dict[str, object]:
    key = re.search(r'name="request_key" value="([^"]+)"', page_html)
    assert key is not None
    return {
        "csrf": csrf_of(page_html),
        "request_key": key.group(1),
        "subscription": "any",
        "body": "Hi [Firstname], we are closed on Monday.",
        "category": "account",
        **more,
    }


def test_staff_preview_then_send_then_cancel_the_rest(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    make_client(session, shop.business, clock.now(), first_name="Ana", cell_phone="+12125550101")
    make_client(session, shop.business, clock.now(), first_name="Cy", cell_phone=None)
    session.commit()
    page = shop.clerk.get(PATH)
    assert page.status_code == 200 and "No bulk sends yet." in page.text
    preview = shop.clerk.post(PATH, data=form(page.text, action="preview"))
    assert preview.status_code == 200, preview.text
    shown = text(preview.text)
    assert "1 client will get it, using 1 unit" in shown
    assert "1 — no valid cell phone" in shown
    assert "The first one reads: Hi Ana, we are closed on Monday." in shown
    assert count(session, BulkSend) == 0  # a preview writes nothing
    sent = shop.clerk.post(PATH, data=form(preview.text, action="send"), follow_redirects=False)
    assert sent.status_code == 303, sent.text
    bulk = session.scalars(select(BulkSend)).one()
    assert sent.headers["location"] == f"{PATH}/{bulk.id}"
    progress = shop.clerk.get(sent.headers["location"])
    assert 'data-count="queued">1<' in progress.text
    assert 'http-equiv="refresh"' in progress.text  # follows the send while texts wait
    # Sending the same form again (a double click, a reload) sends nothing more.
    shop.clerk.post(PATH, data=form(preview.text, action="send"))
    assert count(session, BulkSend) == 1
    assert count(session, Message, Message.bulk_send_id == bulk.id) == 1
    cancelled = shop.clerk.post(f"{PATH}/{bulk.id}/cancel", data={"csrf": csrf_of(progress.text)})
    assert cancelled.status_code == 200
    assert 'id="bulk-status">cancelled<' in cancelled.text
    assert 'data-count="cancelled">1<' in cancelled.text


def test_a_refused_send_is_shown_with_the_form_kept(shop: Shop, session: Session) -> None:
    page = shop.clerk.get(PATH)
    refused = shop.clerk.post(
        PATH, data=form(page.text, body="See you at [BookingTime]", action="preview")
    )
    assert refused.status_code == 400
    assert "[BookingTime] is not available in a bulk send" in text(refused.text)
    assert "See you at [BookingTime]</textarea>" in refused.text
    assert count(session, BulkSend) == 0


def test_staff_without_the_send_permission_cannot_send(shop: Shop, session: Session) -> None:
    page = shop.clerk.get(PATH)
    clerk = session.scalars(select(StaffMember).where(StaffMember.email == CLERK_EMAIL)).one()
    clerk.can_send_sms = False
    session.commit()
    refused = shop.clerk.post(PATH, data=form(page.text, action="send"))
    assert refused.status_code == 403
    assert count(session, BulkSend) == 0


def test_the_owner_sets_the_marketing_frequency_cap(shop: Shop, session: Session) -> None:
    settings = shop.owner.get("/settings")
    saved = shop.owner.post(
        "/settings/marketing-cap",
        data={"csrf": csrf_of(settings.text), "marketing_cap": "4", "marketing_cap_days": "30"},
    )
    assert saved.status_code == 200
    session.refresh(shop.business)
    assert (shop.business.marketing_cap, shop.business.marketing_cap_days) == (4, 30)
    refused = shop.owner.post(
        "/settings/marketing-cap",
        data={"csrf": csrf_of(saved.text), "marketing_cap": "4", "marketing_cap_days": "900"},
    )
    assert "from 1 to 365" in text(refused.text)
    session.refresh(shop.business)
    assert shop.business.marketing_cap_days == 30
    cleared = shop.owner.post(
        "/settings/marketing-cap",
        data={"csrf": csrf_of(refused.text), "marketing_cap": "", "marketing_cap_days": "30"},
    )
    assert cleared.status_code == 200
    session.refresh(shop.business)
    assert shop.business.marketing_cap is None


def test_a_send_scheduled_on_the_page_goes_by_the_business_clock_and_can_change(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    make_client(session, shop.business, clock.now(), first_name="Ana", cell_phone="+12125550101")
    session.commit()
    zone = ZoneInfo(shop.business.timezone)
    tomorrow = (clock.now().astimezone(zone) + timedelta(days=1)).date()
    page = shop.clerk.get(PATH)
    when = {"send_date": tomorrow.isoformat(), "send_time": "09:00"}
    preview = shop.clerk.post(PATH, data=form(page.text, action="preview", **when))
    assert "Schedule for 1" in preview.text
    made = shop.clerk.post(PATH, data=form(preview.text, action="send", **when))
    assert made.status_code == 200, made.text
    bulk = session.scalars(select(BulkSend)).one()
    assert bulk.status == "scheduled"
    assert bulk.send_at == datetime.combine(tomorrow, time(9), zone).astimezone(UTC)
    assert count(session, Message) == 0
    listed = shop.clerk.get(PATH)
    assert "Nothing scheduled." not in listed.text and f"/bulk-sends/{bulk.id}" in listed.text
    assert 'id="bulk-schedule"' in made.text and 'name="pick"' in made.text
    ana = session.scalars(select(Client).where(Client.first_name == "Ana")).one()
    changed = shop.clerk.post(
        f"{PATH}/{bulk.id}",
        data={"csrf": csrf_of(made.text), "body": "Hi [Firstname], doors open at 10.",
              "category": "account", "pick": "chosen", "client_ids": [str(ana.id)],
              "send_date": tomorrow.isoformat(), "send_time": "10:30"},
    )  # fmt: skip
    assert changed.status_code == 200
    session.refresh(bulk)
    assert bulk.body == "Hi [Firstname], doors open at 10."
    assert bulk.audience == {"client_ids": [ana.id]}
    assert bulk.send_at == datetime.combine(tomorrow, time(10, 30), zone).astimezone(UTC)
    # The page shows the send as it now is: the chosen client selected, the new time.
    assert f'<option value="{ana.id}" selected>' in changed.text
    assert 'value="10:30"' in changed.text
    half = shop.clerk.post(
        f"{PATH}/{bulk.id}", data={"csrf": csrf_of(changed.text), "body": "x", "send_date": "",
                                   "send_time": "10:00"},
    )  # fmt: skip
    assert half.status_code == 400 and "both the date and the time" in text(half.text)


def test_the_composer_schedules_a_text_to_the_conversations_client(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    ana = make_client(session, shop.business, clock.now(), first_name="Ana",
                      cell_phone="+12125550101")  # fmt: skip
    number = session.scalars(
        select(SmsNumber).where(SmsNumber.business_id == shop.business.id)
    ).one()
    text_from(session, number, "+12125550101", "Can I move my class?", clock.now())
    text_from(session, number, "+12125550177", "Who is this?", clock.now())
    session.commit()

    def conversation_of(phone: str) -> int:
        return session.scalars(select(Conversation.id).where(Conversation.phone == phone)).one()

    page = shop.clerk.get(f"/conversations/{conversation_of('+12125550101')}")
    assert 'id="send-later"' in page.text
    zone = ZoneInfo(shop.business.timezone)
    tomorrow = (clock.now().astimezone(zone) + timedelta(days=1)).date()
    key = re.search(r'name="request_key" value="([^"]+)"', page.text)
    assert key is not None
    data = {
        "csrf": csrf_of(page.text),
        "body": "Yes: Thursday 6 pm works.",
        "action": "schedule",
        "send_date": tomorrow.isoformat(),
        "send_time": "09:15",
        "request_key": key.group(1),
    }
    path = f"/conversations/{conversation_of('+12125550101')}/messages"
    done = shop.clerk.post(path, data=data)
    assert done.status_code == 200 and "Scheduled: it goes at the time you chose" in done.text
    shop.clerk.post(path, data=data)  # a second click schedules nothing more
    bulk = session.scalars(select(BulkSend)).one()
    assert (bulk.status, bulk.category, bulk.audience) == (
        "scheduled", "personal", {"client_ids": [ana.id]}
    )  # fmt: skip
    assert bulk.send_at == datetime.combine(tomorrow, time(9, 15), zone).astimezone(UTC)
    assert count(session, Message, Message.direction == "outbound") == 0
    # A conversation with nobody linked has no client to schedule for.
    refused = shop.clerk.post(
        f"/conversations/{conversation_of('+12125550177')}/messages",
        data={**data, "csrf": csrf_of(done.text), "request_key": "other"},
    )
    assert "Link this conversation to a client" in text(refused.text)
    assert count(session, BulkSend) == 1
