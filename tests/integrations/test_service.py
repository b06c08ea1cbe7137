"""Endpoints and events: one delivery per subscribed endpoint of the event's own business,
written in the caller's transaction; deleting cancels what was not delivered; send again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.integrations import service
from messagecenter.models import WebhookDelivery, WebhookEndpoint
from messagecenter.models.webhook import (
    DELIVERY_CANCELLED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    EVENT_CLIENT_OPTED_OUT,
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    EVENT_TYPES,
)
from tests.factories import SetUp, make_business

URL = "https://93.184.216.34/hooks"  # a literal address: no DNS in the tests


def endpoint(
    session: Session, business_id: int, clock: FrozenClock, *events: str, url: str = URL
) -> WebhookEndpoint:
    created, _ = service.create_endpoint(
        session,
        business_id,
        url=url,
        events=list(events) or list(EVENT_TYPES),
        description="booking system",
        at=clock.now(),
        allow_private=True,
    )
    return created


def deliveries(session: Session) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_event_becomes_one_delivery_per_subscribed_endpoint_of_its_business(
    session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    both = endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED, EVENT_MESSAGE_STATUS)
    received_only = endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    endpoint(session, shop.business.id, clock, EVENT_CLIENT_OPTED_OUT)
    theirs = endpoint(session, other.business.id, clock)  # subscribed to everything

    data = {"message_id": 5, "at": clock.now()}
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, data, clock.now())
    rows = deliveries(session)
    assert {r.endpoint_id for r in rows} == {both.id, received_only.id}  # never `theirs`
    assert theirs.id not in {r.endpoint_id for r in rows}
    assert {r.business_id for r in rows} == {shop.business.id}
    assert len({r.event_id for r in rows}) == 1 and rows[0].event_id.startswith("evt_")
    assert rows[0].body == rows[1].body
    body = json.loads(rows[0].body)
    assert body == {
        "id": rows[0].event_id,
        "type": "message.received",
        "timestamp": "2026-11-16T15:00:00Z",
        "business_id": shop.business.id,
        "data": {"message_id": 5, "at": "2026-11-16T15:00:00Z"},
    }
    row = rows[0]
    assert row.state == DELIVERY_PENDING and row.attempts == 0
    assert row.next_attempt_at == clock.now()
    assert row.give_up_at == clock.now() + timedelta(hours=24)


def test_events_nobody_subscribed_to_write_nothing(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    service.record_event(session, shop.business.id, EVENT_MESSAGE_STATUS, {}, clock.now())
    endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    service.record_event(session, shop.business.id, EVENT_MESSAGE_STATUS, {}, clock.now())
    assert deliveries(session) == []
    with pytest.raises(ValueError, match="unknown webhook event"):
        service.record_event(session, shop.business.id, "message.deleted", {}, clock.now())


def test_deliveries_are_written_in_the_callers_transaction(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    session.commit()
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    session.rollback()  # the change they report did not happen: neither did they
    assert deliveries(session) == []


def test_a_batch_of_events_for_several_businesses(
    session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    ours = endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    theirs = endpoint(session, other.business.id, clock, EVENT_MESSAGE_RECEIVED)
    at = clock.now()
    service.record_events(
        session,
        [
            service.Event(shop.business.id, EVENT_MESSAGE_RECEIVED, {"n": 1}, at),
            service.Event(other.business.id, EVENT_MESSAGE_RECEIVED, {"n": 2}, at),
            service.Event(shop.business.id, EVENT_MESSAGE_RECEIVED, {"n": 3}, at),
        ],
    )
    got = [(r.endpoint_id, json.loads(r.body)["data"]["n"]) for r in deliveries(session)]
    assert got == [(ours.id, 1), (theirs.id, 2), (ours.id, 3)]


def test_registering_refuses_bad_urls_private_targets_and_unknown_events(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    def create(url: str, events: list[str], allow_private: bool = False) -> None:
        service.create_endpoint(
            session,
            shop.business.id,
            url=url,
            events=events,
            description="",
            at=clock.now(),
            allow_private=allow_private,
        )

    with pytest.raises(InvalidInput, match="private, loopback") as refused:
        create("http://127.0.0.1:8080/hooks", [EVENT_MESSAGE_RECEIVED])
    assert refused.value.field == "url"
    with pytest.raises(InvalidInput, match="http:// or https://"):
        create("ftp://93.184.216.34/", [EVENT_MESSAGE_RECEIVED])
    with pytest.raises(InvalidInput, match="Unknown event") as refused:
        create(URL, ["message.deleted"])
    assert refused.value.field == "events"
    with pytest.raises(InvalidInput, match="at least one event"):
        create(URL, [])
    create("http://127.0.0.1:8080/hooks", [EVENT_MESSAGE_RECEIVED], allow_private=True)
    for _ in range(service.MAX_ENDPOINTS - 1):
        create(URL, [EVENT_MESSAGE_RECEIVED])
    with pytest.raises(Conflict, match="at most"):
        create(URL, [EVENT_MESSAGE_RECEIVED])


def test_the_secret_is_kept_and_events_are_stored_once_in_catalogue_order(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    created, secret = service.create_endpoint(
        session,
        shop.business.id,
        url=" " + URL + " ",
        events=[EVENT_MESSAGE_STATUS, EVENT_MESSAGE_RECEIVED, EVENT_MESSAGE_STATUS],
        description="  Bookings ",
        at=clock.now(),
        allow_private=False,
    )
    assert created.secret == secret and secret.startswith("whsec_")
    assert created.url == URL and created.description == "Bookings"
    assert created.events == [EVENT_MESSAGE_RECEIVED, EVENT_MESSAGE_STATUS]


def test_another_businesss_endpoint_is_not_found(
    session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs = endpoint(session, other.business.id, clock)
    service.record_event(session, other.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    (delivery,) = deliveries(session)
    with pytest.raises(NotFound):
        service.get_endpoint(session, shop.business.id, theirs.id)
    with pytest.raises(NotFound):
        service.delete_endpoint(session, shop.business.id, theirs.id, clock.now())
    with pytest.raises(NotFound):
        service.deliveries(session, shop.business.id, theirs.id)
    with pytest.raises(NotFound):
        service.send_again(session, shop.business.id, theirs.id, delivery.id, clock.now())
    assert service.list_endpoints(session, shop.business.id) == []


def test_deleting_an_endpoint_cancels_what_it_was_not_delivered_and_keeps_its_log(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    gone = endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    service.delete_endpoint(session, shop.business.id, gone.id, clock.now())
    (delivery,) = deliveries(session)
    assert delivery.state == DELIVERY_CANCELLED and delivery.next_attempt_at is None
    assert service.list_endpoints(session, shop.business.id) == []
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    assert len(deliveries(session)) == 1  # nothing more for it
    with pytest.raises(NotFound):
        service.get_endpoint(session, shop.business.id, gone.id)


def test_send_again_revives_a_delivery_for_another_day(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    hook = endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    (delivery,) = deliveries(session)
    delivery.state, delivery.attempts, delivery.next_attempt_at = DELIVERY_FAILED, 30, None
    clock.advance(timedelta(days=2))
    again = service.send_again(session, shop.business.id, hook.id, delivery.id, clock.now())
    assert again.state == DELIVERY_PENDING and again.attempts == 0
    assert again.next_attempt_at == clock.now()
    assert again.give_up_at == clock.now() + timedelta(hours=24)
    assert service.deliveries(session, shop.business.id, hook.id) == [again]


def test_settled_deliveries_leave_the_log_after_30_days(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    endpoint(session, shop.business.id, clock, EVENT_MESSAGE_RECEIVED)
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    settled, pending = deliveries(session)
    settled.state = DELIVERY_FAILED
    clock.advance(timedelta(days=30))
    assert service.purge_delivery_log(session, clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    assert service.purge_delivery_log(session, clock.now()) == 1
    assert deliveries(session) == [pending]  # a pending one is never forgotten
