"""The bulk-send API: preview, send (idempotent on its key), progress, cancel; refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import BulkSend, Message
from tests.conversations.test_routes import assert_error
from tests.factories import SetUp, count, make_business, make_client

TEXT = "Hi [Firstname], we are closed on Monday."


def clients(session: Session, shop: SetUp, clock: FrozenClock) -> None:
    make_client(session, shop.business, clock.now(), first_name="Ana", cell_phone="+12125550101",
                sms_marketing=True)  # fmt: skip
    make_client(session, shop.business, clock.now(), first_name="Ben", cell_phone="+12125550102")
    make_client(session, shop.business, clock.now(), first_name="Cy", cell_phone=None)
    session.commit()


def create(api: TestClient, shop: SetUp, key: str = "k-1", **more: Any) -> Any:
    body = {"request_key": key, "body": TEXT, "category": "marketing", **more}
    return api.post("/api/v1/bulk-sends", json=body, headers=shop.auth)


def test_the_preview_says_whom_it_reaches_and_writes_nothing(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    answer = api.post("/api/v1/bulk-send-previews", json={"body": TEXT}, headers=shop.auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["recipients"], body["units"], body["fits"]) == (1, 1, True)
    assert body["sample"] == "Hi Ana, we are closed on Monday."
    assert {s["reason"]: s["clients"] for s in body["skipped"]} == {
        "switched_off": 1, "no_cell_phone": 1
    }  # fmt: skip
    assert count(session, BulkSend) == 0


def test_a_send_is_created_once_per_key_and_shows_its_progress(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    first = create(api, shop, category="account")
    assert first.status_code == 201, first.text
    sent = first.json()
    assert (sent["recipients"], sent["progress"]["queued"], sent["replayed"]) == (2, 2, False)
    again = create(api, shop, category="account")
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["id"] == sent["id"]
    assert count(session, Message, Message.bulk_send_id == sent["id"]) == 2
    reused = create(api, shop, body="Another text")
    assert_error(reused, 409, "key_reused")
    shown = api.get(f"/api/v1/bulk-sends/{sent['id']}", headers=shop.auth).json()
    assert shown["progress"] == sent["progress"]
    listed = api.get("/api/v1/bulk-sends", headers=shop.auth).json()["items"]
    assert [item["id"] for item in listed] == [sent["id"]]


def test_cancel_withdraws_the_rest(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    sent = create(api, shop, category="account").json()
    cancelled = api.post(f"/api/v1/bulk-sends/{sent['id']}/cancel", headers=shop.auth)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["progress"]["cancelled"] == 2


def test_refusals_name_what_to_fix_and_change_nothing(
    api: TestClient, context: AppContext, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    assert_error(create(api, shop, body="Hi [Firstname], see you at [BookingTime]"), 400,
                 "invalid_input")  # fmt: skip
    backwards = {"filter": {"created_from": "2026-11-10", "created_to": "2026-11-01"}}
    assert_error(create(api, shop, audience=backwards), 400, "invalid_input")
    tight = make_business(session, context.carrier, clock.now(), allowance=0)
    make_client(session, tight.business, clock.now(), cell_phone="+12125550109",
                sms_marketing=True)  # fmt: skip
    session.commit()
    over = create(api, tight)
    assert_error(over, 409, "allowance_exhausted")
    assert "needs 1 unit and the plan has 0 left" in over.json()["error"]["message"]
    assert count(session, BulkSend) == 0


def test_another_business_cannot_see_or_cancel_a_send(
    api: TestClient, context: AppContext, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    sent = create(api, shop, category="account").json()
    other = make_business(session, context.carrier, clock.now())
    session.commit()
    assert api.get(f"/api/v1/bulk-sends/{sent['id']}", headers=other.auth).status_code == 404
    gone = api.post(f"/api/v1/bulk-sends/{sent['id']}/cancel", headers=other.auth)
    assert gone.status_code == 404
    assert count(session, Message, Message.status == "canceled") == 0


def test_a_scheduled_send_changes_until_it_goes(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    clients(session, shop, clock)
    later = (clock.now() + timedelta(hours=3)).isoformat()
    made = create(api, shop, category="account", send_at=later)
    assert made.status_code == 201, made.text
    sent = made.json()
    assert sent["status"] == "scheduled" and sent["progress"]["queued"] == 0
    assert sent["send_at"].startswith(later[:19])
    changed = api.patch(f"/api/v1/bulk-sends/{sent['id']}", headers=shop.auth,
                        json={"body": "Hi [Firstname], new hours from Monday."})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["body"] == "Hi [Firstname], new hours from Monday."
    assert count(session, Message, Message.bulk_send_id == sent["id"]) == 0
    past = api.patch(f"/api/v1/bulk-sends/{sent['id']}", headers=shop.auth,
                     json={"send_at": "2000-01-01T00:00:00Z"})  # fmt: skip
    assert_error(past, 400, "invalid_input")
    cancelled = api.post(f"/api/v1/bulk-sends/{sent['id']}/cancel", headers=shop.auth)
    assert cancelled.json()["status"] == "cancelled"
    too_late = api.patch(f"/api/v1/bulk-sends/{sent['id']}", headers=shop.auth,
                         json={"body": "again"})  # fmt: skip
    assert_error(too_late, 409, "not_scheduled")
