"""The operator API over HTTP: its own token (a business's key never), plans read and changed
at once, every change recorded, bad input a 400 naming the field that changes nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.app import create_app
from messagecenter.businesses import usage
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.errors import AllowanceExhausted
from tests.factories import SetUp, make_business

TOKEN = "operator-test-token-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def operator_context(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> AppContext:
    return build_context(
        settings.model_copy(update={"operator_token": TOKEN}),
        clock=clock,
        engine=engine,
        sessions=sessions,
        rng=random.Random(7),
    )


@pytest.fixture
def operator_api(operator_context: AppContext) -> Iterator[TestClient]:
    app = create_app(context=operator_context, run_dispatcher=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def shop(session: Session, operator_context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(
        session, operator_context.carrier, clock.now(), allowance=10, price="0.05"
    )
    session.commit()
    return setup


def _url(setup: SetUp) -> str:
    return f"/api/operator/v1/businesses/{setup.business.id}/plan"


def _plan(operator_api: TestClient, setup: SetUp) -> dict[str, Any]:
    response = operator_api.get(_url(setup), headers=OPERATOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------- access


def test_switched_off_without_the_setting_says_how_to_turn_it_on(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    response = api.patch(_url(setup), headers=OPERATOR, json={"monthly_allowance": 5})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "operator_api_off"
    assert "MESSAGECENTER_OPERATOR_TOKEN" in error["message"]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer "}, "Authorization: Bearer"),
        ({"Authorization": "Bearer not-the-token"}, "not the operator token"),
        ({"Authorization": f"Basic {TOKEN}"}, "Authorization: Bearer"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "not the operator token"),
    ],
)
def test_without_the_right_token_nothing_is_read_or_changed(
    operator_api: TestClient, shop: SetUp, headers: dict[str, str], says: str
) -> None:
    for method, body in (("GET", None), ("PATCH", {"monthly_allowance": 5})):
        response = operator_api.request(method, _url(shop), headers=headers, json=body)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"
        assert says in response.json()["error"]["message"]
    assert _plan(operator_api, shop)["plan"]["monthly_allowance"] == 10


def test_a_business_api_key_cannot_change_its_own_plan(
    operator_api: TestClient, shop: SetUp
) -> None:
    response = operator_api.patch(
        _url(shop), headers=shop.auth, json={"monthly_allowance": 1_000_000}
    )
    assert response.status_code == 401
    assert "API key cannot use the operator API" in response.json()["error"]["message"]
    # Nor through the business API: it has no route that changes a plan.
    for method in ("PATCH", "PUT", "POST"):
        answer = operator_api.request(
            method, "/api/v1/usage", headers=shop.auth, json={"allowance": 1_000_000}
        )
        assert answer.status_code == 405
    assert _plan(operator_api, shop)["plan"]["monthly_allowance"] == 10
    assert _plan(operator_api, shop)["history"] == []


def test_the_operator_api_is_not_in_the_business_api_document(operator_api: TestClient) -> None:
    paths = operator_api.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/api/operator")]


# ---------------------------------------------------------------------------- reading


def test_get_shows_the_plan_in_its_currency_the_period_and_no_history(
    operator_api: TestClient, shop: SetUp
) -> None:
    body = _plan(operator_api, shop)
    assert body["business_id"] == shop.business.id
    assert body["plan"] == {
        "monthly_allowance": 10,
        "overage_policy": "hard_stop",
        "overage_price_per_unit": "0.0500",
        "currency": "USD",
        "monthly_spending_cap": None,
        "send_limit": 10,
        "overage_price_text": "$0.05",
        "monthly_spending_cap_text": None,
    }
    assert body["current_period"]["used"] == 0
    assert body["current_period"]["period_start"] == "2026-11-01"
    assert body["history"] == []


def test_a_missing_business_is_a_404(operator_api: TestClient) -> None:
    for business_id in (999_999, 2**31 - 1):
        response = operator_api.get(
            f"/api/operator/v1/businesses/{business_id}/plan", headers=OPERATOR
        )
        assert response.status_code == 404
        assert f"no business {business_id}" in response.json()["error"]["message"]
    response = operator_api.get(f"/api/operator/v1/businesses/{2**31}/plan", headers=OPERATOR)
    assert response.status_code == 400


# ---------------------------------------------------------------------------- changing


def test_patch_changes_the_plan_at_once_and_records_the_named_operator(
    operator_api: TestClient,
    shop: SetUp,
    session: Session,
    clock: FrozenClock,
) -> None:
    usage.reserve_outbound(session, shop.business, 10, clock.now())
    session.commit()
    with pytest.raises(AllowanceExhausted):
        usage.reserve_outbound(session, shop.business, 1, clock.now())
    session.rollback()

    response = operator_api.patch(
        _url(shop),
        headers={**OPERATOR, "Operator-Name": "alice@ops"},
        json={
            "overage_policy": "allow_overage",
            "overage_price_per_unit": "0.10",
            "monthly_spending_cap": 0.3,
            "note": "asked for more, ticket 12",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert body["plan"]["send_limit"] == 13
    assert body["plan"]["monthly_spending_cap_text"] == "$0.30"
    (change,) = body["history"]
    assert (change["changed_by"], change["changed_via"], change["note"]) == (
        "alice@ops",
        "api",
        "asked for more, ticket 12",
    )
    assert change["changed_at"].startswith("2026-11-16T15:00:00")
    assert change["before"]["overage_policy"] == "hard_stop"
    assert change["after"]["monthly_spending_cap"] == "0.3000"
    # In force for the next send of this period: 3 units of overage, then the cap.
    usage.reserve_outbound(session, shop.business, 3, clock.now())
    with pytest.raises(AllowanceExhausted, match="spending cap"):
        usage.reserve_outbound(session, shop.business, 1, clock.now())


def test_an_unnamed_operator_is_recorded_as_the_token(
    operator_api: TestClient, shop: SetUp
) -> None:
    response = operator_api.patch(_url(shop), headers=OPERATOR, json={"monthly_allowance": 50})
    assert response.status_code == 200
    assert response.json()["history"][0]["changed_by"] == "operator-token"


def test_a_null_cap_lifts_it_and_a_missing_one_leaves_it(
    operator_api: TestClient, shop: SetUp
) -> None:
    operator_api.patch(
        _url(shop),
        headers=OPERATOR,
        json={"overage_policy": "allow_overage", "monthly_spending_cap": "5"},
    )
    kept = operator_api.patch(_url(shop), headers=OPERATOR, json={"monthly_allowance": 20})
    assert kept.json()["plan"]["monthly_spending_cap"] == "5.0000"
    lifted = operator_api.patch(_url(shop), headers=OPERATOR, json={"monthly_spending_cap": None})
    assert lifted.json()["plan"]["monthly_spending_cap"] is None
    assert lifted.json()["plan"]["send_limit"] is None
    assert len(lifted.json()["history"]) == 3


def test_the_same_terms_again_change_and_record_nothing(
    operator_api: TestClient, shop: SetUp
) -> None:
    response = operator_api.patch(_url(shop), headers=OPERATOR, json={"monthly_allowance": 10})
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert response.json()["history"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"monthly_allowance": -1}, "monthly_allowance"),
        ({"monthly_allowance": "12"}, "monthly_allowance"),
        ({"monthly_allowance": 2**40}, "monthly_allowance"),
        ({"overage_policy": "bill_later"}, "overage_policy"),
        ({"overage_price_per_unit": "cheap"}, "overage_price_per_unit"),
        ({"overage_price_per_unit": "-0.01"}, "overage_price_per_unit"),
        ({"overage_price_per_unit": "0.00001"}, "overage_price_per_unit"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"monthly_spending_cap": "-1"}, "monthly_spending_cap"),
        ({"monthly_spending_cap": "1e30"}, "monthly_spending_cap"),
        ({"allowance": 5}, "allowance"),
        ({"note": "n" * 501}, "note"),
        ({"note": "only a note"}, "plan"),
        ({}, "plan"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    operator_api: TestClient, shop: SetUp, body: dict[str, Any], field: str
) -> None:
    # A good term beside the bad one: it must not land either.
    sent = {"monthly_allowance": 7, **body} if "monthly_allowance" not in body else body
    if field == "plan":
        sent = body
    response = operator_api.patch(_url(shop), headers=OPERATOR, json=sent)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", field)
    after = _plan(operator_api, shop)
    assert after["plan"]["monthly_allowance"] == 10
    assert after["plan"]["currency"] == "USD"
    assert after["history"] == []


def test_an_unprintable_operator_name_is_refused(operator_api: TestClient, shop: SetUp) -> None:
    response = operator_api.patch(
        _url(shop),
        headers={**OPERATOR, "Operator-Name": "a" * 101},
        json={"monthly_allowance": 5},
    )
    assert response.status_code == 400
    assert _plan(operator_api, shop)["plan"]["monthly_allowance"] == 10
