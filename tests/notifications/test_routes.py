"""The trigger API: POST /api/v1/notifications (one or a batch), GET one, the templates."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Client, Message, Notification
from messagecenter.notifications.schemas import MAX_BATCH
from tests.conversations.test_routes import assert_error
from tests.factories import JOHN, SetUp, count, make_business, make_client

BOOKING = {"booking_at": "2026-11-20T15:00:00Z", "service": "Massage"}


def post(api: TestClient, shop: SetUp, body: dict[str, Any]) -> Any:
    return api.post("/api/v1/notifications", json=body, headers=shop.auth)


def reminder(client_id: int, reference: str = "b-1", **more: Any) -> dict[str, Any]:
    return {
        "type": "booking_reminder",
        "reference": reference,
        "client_id": client_id,
        "data": BOOKING,
        **more,
    }


def test_a_trigger_is_answered_with_its_notification_and_shown_by_id(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    answer = post(api, shop, reminder(maria.id, send_at="2026-11-19T15:00:00Z"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] == "queued" and not body["replayed"]
    note = body["notification"]
    assert note["status"] == "queued" and note["message_status"] == "queued"
    assert note["send_at"].startswith("2026-11-19T15:00:00")
    shown = api.get(f"/api/v1/notifications/{note['id']}", headers=shop.auth)
    assert shown.status_code == 200 and shown.json() == note
    sent = api.get(f"/api/v1/messages/{note['message_id']}", headers=shop.auth).json()
    assert sent["sender"] == {"type": "automated", "name": "Automated"}
    assert "Fri, Nov 20 at 10:00 AM" in sent["body"]


def test_the_same_request_twice_sends_one_message(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    first = post(api, shop, reminder(maria.id)).json()
    second = post(api, shop, reminder(maria.id)).json()
    assert second["replayed"] and second["notification"] == first["notification"]
    assert count(session, Message, Message.business_id == shop.business.id) == 1


def test_a_skip_is_answered_and_recorded_with_its_reason(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), sms_reminders=False)
    session.commit()
    body = post(api, shop, reminder(client.id)).json()
    assert body["result"] == "skipped"
    assert body["notification"]["reason_code"] == "category_off"
    shown = api.get(f"/api/v1/notifications/{body['notification']['id']}", headers=shop.auth)
    assert shown.json()["status"] == "skipped" and shown.json()["reason"]


def test_cancel_answers_what_it_withdrew(api: TestClient, shop: SetUp, maria: Client) -> None:
    queued = post(api, shop, reminder(maria.id, send_at="2026-11-19T15:00:00Z")).json()
    body = post(api, shop, {"type": "booking_reminder", "reference": "b-1", "cancel": True})
    assert body.status_code == 200, body.text
    (cancelled,) = body.json()["cancelled"]
    assert body.json()["result"] == "cancelled"
    assert cancelled["id"] == queued["notification"]["id"]
    assert cancelled["status"] == "cancelled" and cancelled["message_status"] == "canceled"


def test_a_refused_single_trigger_is_its_error(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    missing = reminder(maria.id, data={"service": "Massage"})
    error = assert_error(post(api, shop, missing), 400, "invalid_input")
    assert error["field"] == "data.booking_at" and "[BookingDate]" in error["message"]
    assert_error(post(api, shop, reminder(maria.id, type="nope")), 400, "invalid_input")
    assert count(session, Notification) == 0


def test_another_business_s_client_and_notification_are_not_found(
    api: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    shop: SetUp,
    maria: Client,
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs = make_client(session, other.business, clock.now(), cell_phone=JOHN)
    session.commit()
    assert_error(post(api, shop, reminder(theirs.id)), 404, "not_found")
    mine = post(api, shop, reminder(maria.id)).json()["notification"]
    got = api.get(f"/api/v1/notifications/{mine['id']}", headers=other.auth)
    assert_error(got, 404, "not_found")
    batch = api.post(
        "/api/v1/notification-batches",
        json={"notifications": [reminder(theirs.id, "t"), reminder(maria.id, "m")]},
        headers=shop.auth,
    ).json()["results"]
    assert batch[0]["result"] == "refused" and batch[0]["error"]["code"] == "not_found"
    assert batch[1]["result"] == "queued"
    assert count(session, Notification, Notification.client_id == theirs.id) == 0


def test_a_batch_of_1000_is_answered_item_by_item_in_order(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    shop = make_business(session, context.carrier, clock.now(), allowance=MAX_BATCH)
    clients = [
        make_client(
            session, shop.business, clock.now(), first_name=f"C{i}", cell_phone=f"+1212555{i:04d}"
        )
        for i in range(MAX_BATCH - 2)
    ]
    session.commit()
    items = [reminder(c.id, f"b-{n}") for n, c in enumerate(clients)]
    items.append(reminder(clients[0].id, "b-0"))  # a repeat of item 0 in the same batch
    items.append({"type": "booking_reminder", "reference": "nobody", "cell_phone": "+13125550199"})
    answer = api.post(
        "/api/v1/notification-batches", json={"notifications": items}, headers=shop.auth
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["index"] for r in results] == list(range(MAX_BATCH))
    assert all(r["result"] == "queued" for r in results[: MAX_BATCH - 2])
    assert results[-2]["result"] == "refused" and results[-2]["error"]["field"] == "reference"
    assert results[-1]["result"] == "refused" and results[-1]["error"]["code"] == "not_found"
    assert count(session, Message, Message.business_id == shop.business.id) == MAX_BATCH - 2
    bodies = session.scalars(
        select(Message.body).where(Message.business_id == shop.business.id).limit(3)
    ).all()
    assert all("[" not in b for b in bodies)


def test_more_than_1000_items_is_refused_whole(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    items = [reminder(maria.id, f"b-{n}") for n in range(MAX_BATCH + 1)]
    answer = api.post(
        "/api/v1/notification-batches", json={"notifications": items}, headers=shop.auth
    )
    assert_error(answer, 400)
    assert count(session, Notification) == 0


def test_a_key_is_needed(api: TestClient) -> None:
    assert_error(api.post("/api/v1/notifications", json={}), 401)


def test_templates_list_the_defaults_and_save_checked_changes(api: TestClient, shop: SetUp) -> None:
    listed = api.get("/api/v1/notification-templates", headers=shop.auth).json()["items"]
    welcome = next(t for t in listed if t["type"] == "welcome")
    assert welcome["enabled"] and not welcome["customised"]
    assert welcome["body"] == welcome["default_body"] and "[Firstname]" in welcome["variables"]
    refused = api.patch(
        "/api/v1/notification-templates/welcome",
        json={"body": "Hi [Firstname] at [BookingTime]"},
        headers=shop.auth,
    )
    error = assert_error(refused, 400, "invalid_input")
    assert error["field"] == "body" and "[BusinessName]" in error["message"]
    saved = api.patch(
        "/api/v1/notification-templates/welcome",
        json={"body": "Hi [Firstname]!", "enabled": False},
        headers=shop.auth,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["body"] == "Hi [Firstname]!" and not saved.json()["enabled"]
    unknown = api.patch("/api/v1/notification-templates/nope", json={}, headers=shop.auth)
    assert_error(unknown, 400, "invalid_input")


def test_a_batch_takes_as_many_statements_for_50_items_as_for_5(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Set-wise all through, answer included: each item's answer used to read its message's
    state on its own (1,000 queries for a full batch)."""
    shop = make_business(session, context.carrier, clock.now(), allowance=100)
    clients = [
        make_client(
            session, shop.business, clock.now(), first_name=f"C{i}", cell_phone=f"+1212555{i:04d}"
        )
        for i in range(55)
    ]
    session.commit()
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    def batch(size: int, start: int) -> int:
        items = [reminder(c.id, f"s-{c.id}") for c in clients[start : start + size]]
        statements.clear()
        event.listen(context.engine, "before_cursor_execute", counted)
        try:
            answer = api.post(
                "/api/v1/notification-batches", json={"notifications": items}, headers=shop.auth
            )
        finally:
            event.remove(context.engine, "before_cursor_execute", counted)
        assert answer.status_code == 200, answer.text
        assert all(r["result"] == "queued" for r in answer.json()["results"])
        return len(statements)

    assert batch(50, 5) == batch(5, 0)
