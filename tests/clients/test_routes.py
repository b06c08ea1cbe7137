"""JSON API: /api/v1/clients (create, read, edit, the All Clients list)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import SetUp, make_business, make_client, text_from

CLIENT_KEYS = {
    "id",
    "first_name",
    "last_name",
    "email",
    "cell_phone",
    "cell_phone_valid_for_sms",
    "cell_phone_problem",
    "sms_reminders",
    "sms_account",
    "sms_marketing",
    "timezone",
    "subscription",
    "created_at",
    "updated_at",
}


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    session.commit()
    return created


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_create_and_read_a_client(api: TestClient, setup: SetUp) -> None:
    created = api.post(
        "/api/v1/clients",
        json={
            "first_name": "Maria",
            "last_name": "Lopez",
            "email": "Maria@Example.com",
            "cell_phone": "(212) 555-0142",
        },
        headers=setup.auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == CLIENT_KEYS
    assert body["cell_phone"] == "+12125550142"
    assert body["email"] == "maria@example.com"
    assert body["cell_phone_valid_for_sms"] is True
    assert body["cell_phone_problem"] is None
    assert (body["sms_reminders"], body["sms_account"], body["sms_marketing"]) == (
        True,
        True,
        False,
    )
    assert body["subscription"]["subscribed"] is True

    fetched = api.get(f"/api/v1/clients/{body['id']}", headers=setup.auth)
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_a_client_without_a_cell_phone_is_not_valid_for_sms(api: TestClient, setup: SetUp) -> None:
    body = api.post("/api/v1/clients", json={"first_name": "Ann"}, headers=setup.auth).json()
    assert body["cell_phone"] is None
    assert body["cell_phone_valid_for_sms"] is False
    assert body["cell_phone_problem"] == "No cell phone on file"


def test_a_landline_is_refused_with_400_naming_the_field(api: TestClient, setup: SetUp) -> None:
    response = api.post(
        "/api/v1/clients",
        json={"first_name": "Ann", "cell_phone": "+44 20 7946 0000"},
        headers=setup.auth,
    )
    error = _error(response, 400)
    assert error["code"] == "invalid_input"
    assert error["field"] == "cell_phone"
    assert "landline" in error["message"]
    listed = api.get("/api/v1/clients", headers=setup.auth).json()
    assert listed["total"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "Ann", "nickname": "Annie"}, "nickname"),
        ({"first_name": "Ann", "business_id": 1}, "business_id"),
        ({"last_name": "Adams"}, "first_name"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "Ann", "sms_marketing": "maybe"}, "sms_marketing"),
    ],
)
def test_bad_or_unknown_fields_are_refused_with_400(
    api: TestClient, setup: SetUp, payload: dict[str, Any], field: str
) -> None:
    error = _error(api.post("/api/v1/clients", json=payload, headers=setup.auth), 400)
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert api.get("/api/v1/clients", headers=setup.auth).json()["total"] == 0


def test_patch_changes_the_given_fields(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()

    response = api.patch(
        f"/api/v1/clients/{client.id}",
        json={"last_name": "Lopez-Garcia", "sms_marketing": True},
        headers=setup.auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"]) == ("Maria", "Lopez-Garcia")
    assert body["sms_marketing"] is True
    assert body["cell_phone"] == "+12125550142"
    assert api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json() == body


def test_patch_with_a_landline_changes_nothing(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()
    before = api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json()

    response = api.patch(
        f"/api/v1/clients/{client.id}",
        json={"first_name": "Marisol", "cell_phone": "+61 2 5550 1234"},
        headers=setup.auth,
    )
    error = _error(response, 400)
    assert error["field"] == "cell_phone"
    assert "landline" in error["message"]
    assert api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json() == before


def test_patch_with_an_empty_cell_phone_clears_it(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()
    body = api.patch(
        f"/api/v1/clients/{client.id}", json={"cell_phone": ""}, headers=setup.auth
    ).json()
    assert body["cell_phone"] is None
    assert body["cell_phone_valid_for_sms"] is False


def test_patch_refuses_unknown_fields(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()
    response = api.patch(
        f"/api/v1/clients/{client.id}", json={"id": 999, "first_name": "X"}, headers=setup.auth
    )
    assert _error(response, 400)["field"] == "id"
    assert api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json()["first_name"] == (
        "Maria"
    )


def test_another_business_client_is_404(
    api: TestClient,
    context: AppContext,
    session: Session,
    setup: SetUp,
    clock: FrozenClock,
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs = make_client(session, other.business, clock.now(), first_name="Secret")
    session.commit()

    read = api.get(f"/api/v1/clients/{theirs.id}", headers=setup.auth)
    edit = api.patch(
        f"/api/v1/clients/{theirs.id}", json={"first_name": "Hacked"}, headers=setup.auth
    )
    missing = api.get(f"/api/v1/clients/{theirs.id + 10_000}", headers=setup.auth)

    for response in (read, edit):
        error = _error(response, 404)
        assert error["code"] == "not_found"
        assert "Secret" not in response.text
    # Another business's client looks exactly like one that does not exist.
    assert read.json() == missing.json()
    owner_view = api.get(f"/api/v1/clients/{theirs.id}", headers=other.auth).json()
    assert owner_view["first_name"] == "Secret"
    listed = api.get("/api/v1/clients", headers=setup.auth).json()
    assert theirs.id not in [c["id"] for c in listed["items"]]


def test_list_searches_and_pages(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    people = [("Cara", "Young"), ("Ann", "Adams"), ("Bea", "Adams"), ("Dan", "Moss")]
    for n, (first, last) in enumerate(people):
        make_client(
            session,
            setup.business,
            clock.now(),
            first_name=first,
            last_name=last,
            cell_phone=f"+1212555{150 + n:04d}",
        )
    session.commit()

    page = api.get("/api/v1/clients?limit=2&offset=1", headers=setup.auth)
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 1)
    assert [c["first_name"] for c in body["items"]] == ["Bea", "Dan"]
    assert all(set(item) == CLIENT_KEYS for item in body["items"])

    adams = api.get("/api/v1/clients", params={"search": "adams"}, headers=setup.auth).json()
    assert [c["first_name"] for c in adams["items"]] == ["Ann", "Bea"]
    assert adams["total"] == 2

    by_phone = api.get("/api/v1/clients", params={"search": "5550153"}, headers=setup.auth)
    assert [c["first_name"] for c in by_phone.json()["items"]] == ["Dan"]

    default = api.get("/api/v1/clients", headers=setup.auth).json()
    assert (default["limit"], default["offset"], default["total"]) == (50, 0, 4)


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "limit=abc"])
def test_list_refuses_bad_paging(api: TestClient, setup: SetUp, query: str) -> None:
    error = _error(api.get(f"/api/v1/clients?{query}", headers=setup.auth), 400)
    assert error["field"] == query.split("=")[0]


def test_clients_need_an_api_key(api: TestClient, setup: SetUp) -> None:
    assert _error(api.get("/api/v1/clients"), 401)["code"] == "missing_api_key"
    bad = {"Authorization": "Bearer mc_wrong"}
    assert _error(api.post("/api/v1/clients", json={"first_name": "A"}, headers=bad), 401)
    assert api.get("/api/v1/clients", headers=setup.auth).json()["total"] == 0


def test_the_subscription_block_shows_an_opt_out(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()
    assert api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json()["subscription"][
        "subscribed"
    ]

    text_from(session, setup.number, "+12125550142", "Stop.", clock.now())
    session.commit()

    body = api.get(f"/api/v1/clients/{client.id}", headers=setup.auth).json()
    subscription = body["subscription"]
    assert subscription["subscribed"] is False
    assert subscription["keyword"] == "STOP"
    assert subscription["changed_at"] is not None
    assert subscription["changed_at"].startswith("2026-11-16T15:00:00")
    listed = api.get("/api/v1/clients", headers=setup.auth).json()["items"]
    assert [c["subscription"]["subscribed"] for c in listed] == [False]


def test_an_opt_out_before_the_client_was_saved_holds(
    api: TestClient, session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    """Consent belongs to the phone number: a STOP from an unknown sender covers a client
    saved later with that number."""
    text_from(session, setup.number, "+12125550177", "STOP", clock.now())
    session.commit()

    created = api.post(
        "/api/v1/clients",
        json={"first_name": "Late", "cell_phone": "212-555-0177"},
        headers=setup.auth,
    ).json()
    assert created["subscription"]["subscribed"] is False
    assert created["subscription"]["keyword"] == "STOP"


def test_a_clients_time_zone_is_set_refused_with_a_clear_400_and_cleared(
    api: TestClient, setup: SetUp
) -> None:
    created = api.post(
        "/api/v1/clients",
        json={"first_name": "Wes", "cell_phone": "(212) 555-0150", "timezone": "America/Denver"},
        headers=setup.auth,
    )
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == "America/Denver"
    url = f"/api/v1/clients/{created.json()['id']}"
    error = _error(api.patch(url, json={"timezone": "Mars/Olympus_Mons"}, headers=setup.auth), 400)
    assert error["field"] == "timezone" and "America/New_York" in error["message"]
    assert api.get(url, headers=setup.auth).json()["timezone"] == "America/Denver"  # unchanged
    cleared = api.patch(url, json={"timezone": None}, headers=setup.auth)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["timezone"] is None
