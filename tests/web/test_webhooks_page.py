"""Settings → Webhooks: add an endpoint (the secret shown once), refused input shown with the
form kept, delete, the delivery log and "send again"; owners only."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.integrations import service
from messagecenter.models import WebhookDelivery, WebhookEndpoint
from messagecenter.models.webhook import DELIVERY_FAILED, DELIVERY_PENDING
from tests.factories import make_business
from tests.web.conftest import Shop, csrf_of

PATH = "/settings/webhooks"
HTML = {"Accept": "text/html"}
URL = "https://93.184.216.34/hooks"


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_the_owner_adds_an_endpoint_and_sees_its_secret_once(shop: Shop, session: Session) -> None:
    settings = shop.owner.get("/settings")
    assert 'href="/settings/webhooks"' in settings.text
    page = shop.owner.get(PATH)
    assert page.status_code == 200 and "No endpoints yet." in page.text
    added = shop.owner.post(
        PATH,
        data={
            "csrf": csrf_of(page.text),
            "url": URL,
            "description": "Booking system",
            "events": ["message.received", "client.opted_out"],
        },
    )
    assert added.status_code == 200, added.text
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', added.text)
    assert secret and secret.group(1).startswith("whsec_")
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.secret == secret.group(1)
    assert endpoint.events == ["message.received", "client.opted_out"]
    again = shop.owner.get(PATH)
    assert URL in again.text and secret.group(1) not in again.text  # shown once


def test_a_refused_endpoint_is_shown_with_the_form_kept(shop: Shop, session: Session) -> None:
    page = shop.owner.get(PATH)
    refused = shop.owner.post(
        PATH,
        data={
            "csrf": csrf_of(page.text),
            "url": "ftp://example.com/",
            "events": ["message.status"],
        },
    )
    assert refused.status_code == 400
    assert "Give an http:// or https:// address." in text(refused.text)
    assert 'value="ftp://example.com/"' in refused.text
    assert re.search(r'value="message.status" checked', refused.text)
    no_events = shop.owner.post(PATH, data={"csrf": csrf_of(page.text), "url": URL})
    assert no_events.status_code == 400 and "Choose at least one event." in text(no_events.text)
    assert session.scalars(select(WebhookEndpoint)).all() == []


def test_the_delivery_log_send_again_and_delete(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    endpoint, _ = service.create_endpoint(
        session, shop.business.id, url=URL, events=["message.received"], description="",
        at=clock.now(), allow_private=False,
    )  # fmt: skip
    service.record_event(session, shop.business.id, "message.received", {}, clock.now())
    delivery = session.scalars(select(WebhookDelivery)).one()
    delivery.state, delivery.attempts, delivery.next_attempt_at = DELIVERY_FAILED, 31, None
    delivery.last_status_code, delivery.last_error = 500, "answered HTTP 500"
    session.commit()
    log = shop.owner.get(f"{PATH}/{endpoint.id}")
    assert log.status_code == 200
    row = text(log.text)
    assert "message.received" in row and "Failed" in row and "HTTP 500" in row
    assert delivery.event_id in log.text
    clock.advance(timedelta(minutes=5))
    sent = shop.owner.post(
        f"{PATH}/{endpoint.id}/deliveries/{delivery.id}/send-again",
        data={"csrf": csrf_of(log.text)},
    )
    assert sent.status_code == 200 and "Queued to be sent again." in sent.text
    session.expire_all()
    again = session.get(WebhookDelivery, delivery.id)
    assert again is not None and again.state == DELIVERY_PENDING
    assert again.next_attempt_at == clock.now()
    deleted = shop.owner.post(f"{PATH}/{endpoint.id}/delete", data={"csrf": csrf_of(log.text)})
    assert deleted.status_code == 200 and "No endpoints yet." in deleted.text
    assert shop.owner.get(f"{PATH}/{endpoint.id}").status_code == 404


def test_only_the_owner_manages_webhooks(shop: Shop) -> None:
    assert shop.clerk.get(PATH).status_code == 403
    token = csrf_of(shop.clerk.get("/inbox").text)
    refused = shop.clerk.post(PATH, data={"csrf": token, "url": URL, "events": ["message.status"]})
    assert refused.status_code == 403


def test_another_businesss_endpoint_is_not_found(
    shop: Shop, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs, _ = service.create_endpoint(
        session, other.business.id, url=URL, events=["message.status"], description="",
        at=clock.now(), allow_private=False,
    )  # fmt: skip
    session.commit()
    assert shop.owner.get(f"{PATH}/{theirs.id}").status_code == 404
    token = csrf_of(shop.owner.get(PATH).text)
    assert shop.owner.post(f"{PATH}/{theirs.id}/delete", data={"csrf": token}).status_code == 404
