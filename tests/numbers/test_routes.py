"""The SMS number through the JSON API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext


def _fresh(session: Session, clock: FrozenClock, country: str = "AU") -> dict[str, str]:
    created = create_business(
        session,
        NewBusiness(
            name="Bondi Pilates", country=country, timezone="Australia/Sydney",
            business_phone="02 5550 1234" if country == "AU" else "+12125550100",
            monthly_allowance=100, overage_policy="hard_stop",
            overage_price_per_unit=Decimal(0), owner_email="owner@bondi.example",
        ),
        clock.now(),
    )  # fmt: skip
    session.commit()
    return {"Authorization": f"Bearer {created.api_key}"}


def test_enable_with_a_suggestion_then_change_with_confirmation(
    api: TestClient, session: Session, clock: FrozenClock
) -> None:
    auth = _fresh(session, clock)
    assert api.get("/api/v1/sms-number", headers=auth).json() == {"active": None, "history": []}
    offered = api.get("/api/v1/sms-number/suggestions", headers=auth).json()
    assert offered["country"] == "AU" and offered["number_type"] == "mobile"
    first, second = offered["suggestions"][:2]

    not_offered = api.post(
        "/api/v1/sms-number", json={"phone_number": "+61255501234"}, headers=auth
    )
    assert not_offered.status_code == 400
    assert not_offered.json()["error"]["field"] == "phone_number"

    enabled = api.post("/api/v1/sms-number", json={"phone_number": first}, headers=auth)
    assert enabled.status_code == 201 and enabled.json()["phone_number"] == first

    warned = api.post("/api/v1/sms-number/change", json={"phone_number": second}, headers=auth)
    assert warned.status_code == 409
    assert warned.json()["error"]["code"] == "confirmation_required"
    assert api.get("/api/v1/sms-number", headers=auth).json()["active"]["phone_number"] == first

    changed = api.post(
        "/api/v1/sms-number/change", json={"phone_number": second, "confirm": True}, headers=auth
    )
    assert changed.status_code == 200 and changed.json()["phone_number"] == second
    numbers = api.get("/api/v1/sms-number", headers=auth).json()
    assert numbers["active"]["phone_number"] == second
    assert [(n["phone_number"], n["status"]) for n in numbers["history"]] == [
        (second, "active"),
        (first, "released"),
    ]


def test_sending_before_a_number_is_chosen_says_what_to_do(
    api: TestClient, session: Session, clock: FrozenClock
) -> None:
    auth = _fresh(session, clock, country="US")
    client = api.post(
        "/api/v1/clients", json={"first_name": "Ana", "cell_phone": "+12125550142"}, headers=auth
    ).json()
    refused = api.post(
        "/api/v1/messages", json={"client_id": client["id"], "body": "Hi"}, headers=auth
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "no_sms_number"


@pytest.mark.server_error_expected
def test_a_number_bought_for_a_commit_that_fails_goes_back_to_the_carrier(
    api: TestClient,
    session: Session,
    clock: FrozenClock,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = _fresh(session, clock)
    first = api.get("/api/v1/sms-number/suggestions", headers=auth).json()["suggestions"][0]
    bought: list[str] = []
    released: list[str] = []
    acquire = context.carrier.acquire_number

    def buy(phone_number: str, sms_webhook_url: str) -> str:
        bought.append(acquire(phone_number, sms_webhook_url))
        return bought[-1]

    def failing_commit(_self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("the database went away"))

    monkeypatch.setattr(context.carrier, "acquire_number", buy)
    monkeypatch.setattr(context.carrier, "release_number", released.append)
    monkeypatch.setattr(Session, "commit", failing_commit)

    failed = api.post("/api/v1/sms-number", json={"phone_number": first}, headers=auth)

    assert failed.status_code == 500
    assert len(bought) == 1 and released == bought  # bought, then given back
    monkeypatch.undo()
    assert api.get("/api/v1/sms-number", headers=auth).json() == {"active": None, "history": []}


def test_a_numbers_send_rate_is_its_own_or_its_types_default(
    api: TestClient, session: Session, clock: FrozenClock
) -> None:
    auth = _fresh(session, clock)
    first = api.get("/api/v1/sms-number/suggestions", headers=auth).json()["suggestions"][0]
    api.post("/api/v1/sms-number", json={"phone_number": first}, headers=auth)
    shown = api.get("/api/v1/sms-number", headers=auth).json()["active"]
    assert (shown["send_rate"], shown["effective_send_rate"]) == (None, 10)  # an AU mobile
    changed = api.patch("/api/v1/sms-number", json={"send_rate": 4}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["send_rate"], changed.json()["effective_send_rate"]) == (4, 4)
    # Changing who answers keywords leaves the rate alone; null goes back to the default.
    kept = api.patch("/api/v1/sms-number", json={"carrier_handles_keywords": False}, headers=auth)
    assert kept.json()["send_rate"] == 4 and not kept.json()["carrier_handles_keywords"]
    reset = api.patch("/api/v1/sms-number", json={"send_rate": None}, headers=auth)
    assert (reset.json()["send_rate"], reset.json()["effective_send_rate"]) == (None, 10)
    for wrong in (0, 1001, 2.5):
        refused = api.patch("/api/v1/sms-number", json={"send_rate": wrong}, headers=auth)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "send_rate"
    whole = api.patch("/api/v1/sms-number", json={"send_rate": 6.0}, headers=auth)
    assert whole.json()["send_rate"] == 6  # a schema's integer, as JSON may write it
