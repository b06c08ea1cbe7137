"""The JSON API of webhook endpoints: register (secret once), list, read, delete, the delivery
log and "send again"; another business's endpoint is a 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.integrations import service
from messagecenter.models.webhook import EVENT_MESSAGE_RECEIVED
from tests.factories import SetUp, make_business

URL = "https://93.184.216.34/hooks"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_register_list_read_and_delete(api: TestClient, shop: SetUp) -> None:
    created = api.post(
        "/api/v1/webhook-endpoints",
        json={"url": URL, "events": ["message.status", "message.received"], "description": "CRM"},
        headers=auth(shop.api_key),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["message.received", "message.status"]
    assert (body["url"], body["description"]) == (URL, "CRM")
    listed = api.get("/api/v1/webhook-endpoints", headers=auth(shop.api_key)).json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]  # shown once
    one = api.get(f"/api/v1/webhook-endpoints/{body['id']}", headers=auth(shop.api_key))
    assert one.status_code == 200 and "secret" not in one.json()
    gone = api.delete(f"/api/v1/webhook-endpoints/{body['id']}", headers=auth(shop.api_key))
    assert gone.status_code == 204 and gone.content == b""
    again = api.get(f"/api/v1/webhook-endpoints/{body['id']}", headers=auth(shop.api_key))
    assert again.status_code == 404


def test_bad_registrations_are_400s_naming_the_field(
    shop: SetUp, settings: Settings, context: AppContext
) -> None:
    strict = build_context(
        settings.model_copy(update={"webhooks_allow_private": False}),
        clock=context.clock,
        engine=context.engine,
        sessions=context.sessions,
    )
    with TestClient(create_app(context=strict, run_dispatcher=False)) as api:

        def post(payload: object) -> tuple[int, dict[str, object]]:
            answer = api.post("/api/v1/webhook-endpoints", json=payload, headers=auth(shop.api_key))
            return answer.status_code, answer.json()["error"]

        _refusals(post)


def _refusals(post: Callable[[object], tuple[int, dict[str, object]]]) -> None:
    status, error = post({"url": "http://127.0.0.1:8080/hooks", "events": ["message.status"]})
    assert status == 400 and error["field"] == "url"
    assert "private, loopback or reserved" in str(error["message"])
    status, error = post({"url": "ftp://93.184.216.34/", "events": ["message.status"]})
    assert status == 400 and error["field"] == "url"
    status, _ = post({"url": URL, "events": ["message.deleted"]})
    assert status == 400
    status, _ = post({"url": URL, "events": []})
    assert status == 400
    status, _ = post({"url": URL})
    assert status == 400


def test_the_delivery_log_and_send_again(
    api: TestClient, shop: SetUp, session: Session, clock: FrozenClock
) -> None:
    created = api.post(
        "/api/v1/webhook-endpoints",
        json={"url": URL, "events": [EVENT_MESSAGE_RECEIVED]},
        headers=auth(shop.api_key),
    ).json()
    for n in range(3):
        service.record_event(
            session, shop.business.id, EVENT_MESSAGE_RECEIVED, {"n": n}, clock.now()
        )
    session.commit()
    path = f"/api/v1/webhook-endpoints/{created['id']}/deliveries"
    log = api.get(path, headers=auth(shop.api_key)).json()["items"]
    assert [d["state"] for d in log] == ["pending"] * 3
    assert log[0]["id"] > log[1]["id"] > log[2]["id"]  # newest first
    older = api.get(
        path, params={"before_id": log[0]["id"], "limit": 1}, headers=auth(shop.api_key)
    )
    assert [d["id"] for d in older.json()["items"]] == [log[1]["id"]]
    assert set(log[0]) >= {"event_id", "event_type", "attempts", "last_status_code", "last_error"}
    clock.advance(timedelta(hours=1))
    again = api.post(f"{path}/{log[2]['id']}/retry", headers=auth(shop.api_key))
    assert again.status_code == 200, again.text
    assert again.json()["next_attempt_at"] == "2026-11-16T16:00:00Z"
    assert api.post(f"{path}/999999/retry", headers=auth(shop.api_key)).status_code == 404


def test_another_businesss_endpoints_are_404(
    api: TestClient, shop: SetUp, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    session.commit()
    theirs = api.post(
        "/api/v1/webhook-endpoints",
        json={"url": URL, "events": [EVENT_MESSAGE_RECEIVED]},
        headers=auth(other.api_key),
    ).json()
    service.record_event(session, other.business.id, EVENT_MESSAGE_RECEIVED, {}, clock.now())
    session.commit()
    base = f"/api/v1/webhook-endpoints/{theirs['id']}"
    headers = auth(shop.api_key)
    assert api.get(base, headers=headers).status_code == 404
    assert api.get(base + "/deliveries", headers=headers).status_code == 404
    assert api.delete(base, headers=headers).status_code == 404
    assert api.post(base + "/deliveries/1/retry", headers=headers).status_code == 404
    assert api.get("/api/v1/webhook-endpoints", headers=headers).json()["items"] == []
    assert api.get(base, headers=auth(other.api_key)).status_code == 200


def test_private_targets_are_allowed_only_by_the_setting(
    api: TestClient, shop: SetUp, settings: Settings
) -> None:
    assert settings.webhooks_allow_private  # this directory's settings: tests use loopback
    answer = api.post(
        "/api/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:8080/hooks", "events": ["message.status"]},
        headers=auth(shop.api_key),
    )
    assert answer.status_code == 201


def test_without_a_key_401(api: TestClient) -> None:
    assert api.get("/api/v1/webhook-endpoints").status_code == 401
