"""JSON API: GET /api/v1/usage and /api/v1/unread, and the 401s in front of them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import authenticate, revoke_api_key
from messagecenter.businesses import usage
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.sending.compose import Sender, send_message
from tests.factories import make_business, make_client, text_from

USAGE_KEYS = {
    "period_start",
    "period_end",
    "allowance",
    "used",
    "remaining",
    "inbound_units",
    "outbound_units",
    "overage_units",
    "overage_cost",
    "overage_policy",
    "warning",
    "currency",
    "overage_price_per_unit",
    "spending_cap",
    "send_limit",
    "warning_limit",
}


def test_usage_reports_the_current_period(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    client = make_client(session, setup.business, clock.now())
    send_message(
        session, setup.business, body="Hi", sender=Sender.automated(), at=clock.now(), client=client
    )
    text_from(session, setup.number, "+12125550142", "Hello", clock.now())
    session.commit()

    response = api.get("/api/v1/usage", headers=setup.auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USAGE_KEYS
    assert body["period_start"] == "2026-11-01"
    assert body["period_end"] == "2026-12-01"
    assert (body["allowance"], body["used"], body["remaining"]) == (10, 2, 8)
    assert (body["inbound_units"], body["outbound_units"]) == (1, 1)
    assert body["overage_units"] == 0
    assert Decimal(str(body["overage_cost"])) == 0
    assert body["overage_policy"] == "hard_stop"
    assert body["warning"] is None
    assert (body["currency"], body["spending_cap"], body["send_limit"]) == ("USD", None, 10)


def test_usage_shows_overage_and_the_warning(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=2, policy="allow_overage", price="0.05"
    )
    client = make_client(session, setup.business, clock.now())
    for _ in range(5):
        send_message(
            session,
            setup.business,
            body="Hi",
            sender=Sender.automated(),
            at=clock.now(),
            client=client,
        )
    session.commit()

    body = api.get("/api/v1/usage", headers=setup.auth).json()

    assert (body["used"], body["remaining"], body["overage_units"]) == (5, 0, 3)
    assert Decimal(str(body["overage_cost"])) == Decimal("0.15")
    assert body["overage_policy"] == "allow_overage"
    assert body["warning"] == 100
    assert (body["currency"], Decimal(body["overage_price_per_unit"])) == ("USD", Decimal("0.05"))
    assert body["send_limit"] is None  # no cap: overage goes on


def test_usage_counts_the_warnings_toward_a_spending_cap(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(
        session,
        context.carrier,
        clock.now(),
        allowance=2,
        policy="allow_overage",
        price="0.05",
        spending_cap="0.40",
        country="GB",
        timezone="Europe/London",
        business_phone="+442071838750",
    )
    usage.reserve_outbound(session, setup.business, 7, clock.now())
    session.commit()

    body = api.get("/api/v1/usage", headers=setup.auth).json()

    assert (body["currency"], Decimal(body["spending_cap"])) == ("GBP", Decimal("0.40"))
    assert (body["send_limit"], body["warning_limit"], body["warning"]) == (10, 10, None)


def test_usage_follows_the_clock_into_the_next_period(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    text_from(session, setup.number, "+12125550142", "Hello", clock.now())
    session.commit()
    assert api.get("/api/v1/usage", headers=setup.auth).json()["used"] == 1

    clock.set(datetime(2026, 12, 1, 5, 0, tzinfo=UTC))  # midnight in New York
    body = api.get("/api/v1/usage", headers=setup.auth).json()
    assert (body["period_start"], body["used"], body["remaining"]) == ("2026-12-01", 0, 10)


def test_unread_counts_client_messages_of_this_business_only(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    session.commit()
    assert api.get("/api/v1/unread", headers=ours.auth).json() == {"unread": 0}

    text_from(session, ours.number, "+12125550142", "Hi", clock.now())
    text_from(session, ours.number, "+12125550142", "Are you open?", clock.now())
    text_from(session, ours.number, "+12125550143", "Hello", clock.now())
    text_from(session, theirs.number, "+12125550144", "Hey", clock.now())
    session.commit()

    response = api.get("/api/v1/unread", headers=ours.auth)
    assert response.status_code == 200
    assert response.json() == {"unread": 3}
    assert api.get("/api/v1/unread", headers=theirs.auth).json() == {"unread": 1}


@pytest.mark.parametrize("path", ["/api/v1/usage", "/api/v1/unread"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer mc_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no key", "bad key", "empty bearer", "basic auth"],
)
def test_a_missing_or_bad_key_gets_401_with_the_error_shape(
    api: TestClient,
    context: AppContext,
    session: Session,
    clock: FrozenClock,
    path: str,
    headers: dict[str, str],
) -> None:
    make_business(session, context.carrier, clock.now())
    session.commit()

    response = api.get(path, headers=headers)

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    assert body["error"]["code"] in {"missing_api_key", "bad_api_key"}
    assert body["error"]["message"]
    assert "used" not in body and "unread" not in body


def test_a_bad_key_and_a_missing_key_say_which(api: TestClient) -> None:
    missing = api.get("/api/v1/usage").json()["error"]
    bad = api.get("/api/v1/usage", headers={"Authorization": "Bearer mc_nope"}).json()["error"]
    assert missing["code"] == "missing_api_key"
    assert "Authorization: Bearer" in missing["message"]
    assert bad["code"] == "bad_api_key"
    assert "not valid" in bad["message"]


def test_401_asks_for_a_bearer_token(api: TestClient) -> None:
    response = api.get("/api/v1/unread")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_gets_401(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    assert api.get("/api/v1/unread", headers=setup.auth).status_code == 200

    key = authenticate(session, setup.api_key)
    revoke_api_key(session, setup.business.id, key.id, clock.now())
    session.commit()

    response = api.get("/api/v1/unread", headers=setup.auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_api_key"
