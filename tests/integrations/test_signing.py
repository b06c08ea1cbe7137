"""Signatures: Standard Webhooks' construction, checked by the `standardwebhooks` package and
by the verification example the README gives (run as it is printed there), on a real delivery
over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from messagecenter.clock import SystemClock
from messagecenter.integrations import service
from messagecenter.integrations.delivery import WebhookDeliverer
from messagecenter.integrations.signing import new_secret, signature, signed_headers
from messagecenter.models.webhook import EVENT_MESSAGE_RECEIVED
from tests.factories import SetUp
from tests.fakes.webhook_receiver import Received, WebhookReceiver

README = Path(__file__).resolve().parents[2] / "README.md"
# A known secret and message (Standard Webhooks' own test suite uses this shape).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def readme_verifier() -> Callable[..., bool]:
    """`verify_webhook` from the README's "Outgoing webhooks" section, as printed."""
    text = README.read_text()
    section = text.split("## Outgoing webhooks", 1)
    assert len(section) == 2, "README.md has no '## Outgoing webhooks' section"
    blocks = re.findall(r"```python\n(.*?)```", section[1].split("\n## ", 1)[0], re.S)
    code = next((b for b in blocks if "def verify_webhook" in b), None)
    assert code is not None, "the README's Outgoing webhooks section has no verify_webhook"
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify_webhook"]
    return verify


def test_the_signature_is_standard_webhooks_hmac_over_id_timestamp_and_body() -> None:
    body = '{"test": 2432232314}'
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body.encode(), "sha256")
    expected = "v1," + base64.b64encode(digest.digest()).decode()
    assert signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    # The package signs the same (its sign() takes the time as a datetime).
    at = datetime.fromtimestamp(1614265330, UTC)
    assert Webhook(SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, body) == expected


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_headers_of_an_attempt() -> None:
    headers = signed_headers(SECRET, "evt_1", 1700000000, "{}")
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == signature(SECRET, "evt_1", 1700000000, "{}")
    assert headers["content-type"] == "application/json"


def _delivered(
    session: Session,
    sessions: sessionmaker[Session],
    shop: SetUp,
    receiver: WebhookReceiver,
) -> tuple[str, Received]:
    """A message.received event delivered for real (signed at the real time, so verifiers
    with a tolerance accept it)."""
    now = datetime.now(UTC)
    _, secret = service.create_endpoint(
        session,
        shop.business.id,
        url=receiver.url,
        events=[EVENT_MESSAGE_RECEIVED],
        description="booking system",
        at=now,
        allow_private=True,
    )
    data = {"message_id": 1, "body": "Can I move my 4pm? Ça va 👍"}
    service.record_event(session, shop.business.id, EVENT_MESSAGE_RECEIVED, data, now)
    session.commit()
    deliverer = WebhookDeliverer(
        sessions, SystemClock(), timeout=5, allow_private=True, concurrency=1, rng=random.Random(1)
    )
    try:
        assert deliverer.run_once() == 1
    finally:
        deliverer.close()
    (received,) = receiver.received
    return secret, received


def test_a_delivery_verifies_with_the_standardwebhooks_package(
    session: Session, sessions: sessionmaker[Session], shop: SetUp, receiver: WebhookReceiver
) -> None:
    secret, received = _delivered(session, sessions, shop, receiver)
    event = Webhook(secret).verify(received.body, received.headers)
    assert event["type"] == EVENT_MESSAGE_RECEIVED
    assert event["id"] == received.headers["webhook-id"]
    assert event["data"]["body"] == "Can I move my 4pm? Ça va 👍"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(received.body, received.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(received.body.replace(b"4pm", b"5pm"), received.headers)


def test_the_readme_example_verifies_a_delivery(
    session: Session, sessions: sessionmaker[Session], shop: SetUp, receiver: WebhookReceiver
) -> None:
    verify_webhook = readme_verifier()
    secret, received = _delivered(session, sessions, shop, receiver)
    assert verify_webhook(secret, received.headers, received.body) is True
    assert verify_webhook(secret, received.headers, received.body + b" ") is False
    assert verify_webhook(new_secret(), received.headers, received.body) is False
    stale = {**received.headers, "webhook-timestamp": "1614265330"}
    assert verify_webhook(secret, stale, received.body) is False


def test_signing_matches_a_hand_computation_on_random_inputs() -> None:
    rng = random.Random(11)
    for _ in range(200):
        secret = new_secret()
        event_id = "evt_" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
        body = "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(0, 200)))
        timestamp = rng.randrange(1_600_000_000, 1_900_000_000)
        key = base64.b64decode(secret[6:])
        signed = f"{event_id}.{timestamp}.{body}".encode()
        mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert signature(secret, event_id, timestamp, body) == "v1," + mac
