"""Idempotency-Key on sends: one message per key and request, for 24 hours, per business."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.models import Message
from tests.factories import SetUp, make_business, make_client
from tests.live_server import serve


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> tuple[SetUp, int]:
    created = make_business(session, context.carrier, clock.now())
    client = make_client(session, created.business, clock.now())
    session.commit()
    return created, client.id


def _outbound(session: Session) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "outbound")
        )
        or 0
    )


def test_a_retried_send_sends_once_and_answers_the_same(
    api: TestClient, session: Session, setup: tuple[SetUp, int]
) -> None:
    business, client_id = setup
    headers = {**business.auth, "Idempotency-Key": "booking-42-reminder"}
    body = {"client_id": client_id, "body": "See you at 4"}
    first = api.post("/api/v1/messages", json=body, headers=headers)
    second = api.post("/api/v1/messages", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _outbound(session) == 1


def test_the_same_key_with_another_request_is_refused(
    api: TestClient, session: Session, setup: tuple[SetUp, int]
) -> None:
    business, client_id = setup
    headers = {**business.auth, "Idempotency-Key": "k-1"}
    api.post("/api/v1/messages", json={"client_id": client_id, "body": "A"}, headers=headers)
    other = api.post(
        "/api/v1/messages", json={"client_id": client_id, "body": "B"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert _outbound(session) == 1


def test_keys_are_scoped_to_the_business(
    api: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    setup: tuple[SetUp, int],
) -> None:
    first, first_client = setup
    second = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    second_client = make_client(session, second.business, clock.now(), cell_phone="+13125550142")
    session.commit()
    for business, client_id in ((first, first_client), (second, second_client.id)):
        reply = api.post(
            "/api/v1/messages",
            json={"client_id": client_id, "body": "Hi"},
            headers={**business.auth, "Idempotency-Key": "shared-key"},
        )
        assert reply.status_code == 201
        assert "Idempotent-Replayed" not in reply.headers
    assert _outbound(session) == 2


def test_a_key_is_kept_24_hours(
    api: TestClient, session: Session, clock: FrozenClock, setup: tuple[SetUp, int]
) -> None:
    business, client_id = setup
    headers = {**business.auth, "Idempotency-Key": "daily"}
    body = {"client_id": client_id, "body": "Hi"}
    api.post("/api/v1/messages", json=body, headers=headers)
    clock.advance(timedelta(hours=23, minutes=59))
    assert api.post("/api/v1/messages", json=body, headers=headers).headers.get(
        "Idempotent-Replayed"
    )
    assert _outbound(session) == 1
    clock.advance(timedelta(minutes=2))
    fresh = api.post("/api/v1/messages", json=body, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert _outbound(session) == 2


def test_a_refused_send_does_not_use_up_the_key(
    api: TestClient, session: Session, setup: tuple[SetUp, int]
) -> None:
    business, client_id = setup
    headers = {**business.auth, "Idempotency-Key": "retry-me"}
    empty = api.post("/api/v1/messages", json={"client_id": client_id, "body": ""}, headers=headers)
    assert empty.status_code == 400
    good = api.post("/api/v1/messages", json={"client_id": client_id, "body": ""}, headers=headers)
    assert good.status_code == 400  # the same bad request is judged again, not replayed
    assert _outbound(session) == 0


def test_an_overlong_key_is_bad_input(api: TestClient, setup: tuple[SetUp, int]) -> None:
    business, client_id = setup
    reply = api.post(
        "/api/v1/messages",
        json={"client_id": client_id, "body": "Hi"},
        headers={**business.auth, "Idempotency-Key": "x" * 256},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["field"] == "Idempotency-Key"


def test_concurrent_retries_with_one_key_send_one_message(
    committed_context: AppContext,
) -> None:
    """Eight clients retry the same send at the same instant over real HTTP."""
    context = committed_context
    with session_scope(context.sessions) as session:
        business = make_business(session, context.carrier, context.clock.now())
        client_id = make_client(session, business.business, context.clock.now()).id
    barrier = threading.Barrier(8)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()
    with serve(create_app(context=context, run_dispatcher=False)) as base_url:

        def send() -> None:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                barrier.wait()
                reply = http.post(
                    "/api/v1/messages",
                    json={"client_id": client_id, "body": "Once only"},
                    headers={**business.auth, "Idempotency-Key": "race"},
                )
            with lock:
                answers.append((reply.status_code, reply.text))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [code for code, _ in answers] == [201] * 8
    assert len({text for _, text in answers}) == 1
    with session_scope(context.sessions) as session:
        assert _outbound(session) == 1


def test_the_worker_clears_keys_older_than_24_hours(
    api: TestClient,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    setup: tuple[SetUp, int],
) -> None:
    from messagecenter.models import IdempotencyKey

    business, client_id = setup
    api.post(
        "/api/v1/messages",
        json={"client_id": client_id, "body": "Hi"},
        headers={**business.auth, "Idempotency-Key": "old"},
    )
    clock.advance(timedelta(hours=25))
    context.worker.run_once()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
