"""Page filters out of range (a last day of 9999-12-31, an id past 32 bits) answer the page
with a message or no rows, never a 500, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import SetUp, make_business, make_client
from tests.web.conftest import owner_email_of, sign_in

HUGE = "99999999999999999999"


@pytest.fixture
def owner(session: Session, context: AppContext, clock: FrozenClock) -> Iterator[TestClient]:
    created: SetUp = make_business(session, context.carrier, clock.now())
    make_client(session, created.business, clock.now())
    session.commit()
    app = create_app(context=context, run_dispatcher=False)
    # Not raising server exceptions: a 500 must show as the status asserted below.
    with TestClient(app, "https://testserver", raise_server_exceptions=False) as client:
        email = owner_email_of(session, created.business.id)
        assert sign_in(client, email, created.owner_password).status_code == 303
        yield client


@pytest.mark.parametrize("path", ["/inbox", "/history"])
@pytest.mark.parametrize(("name", "value"), [("until", "9999-12-31"), ("since", "0001-01-01")])
def test_a_day_beyond_the_calendar_is_a_message_on_the_page(
    owner: TestClient, path: str, name: str, value: str
) -> None:
    reply = owner.get(path, params={name: value})
    if name == "until":
        assert reply.status_code == 400, reply.text  # the page, saying what to change
    else:
        assert reply.status_code == 200, reply.text
    if name == "until":  # 0001-01-01 is a day in a business zone at or behind UTC
        assert "Dates run from 0001-01-02 to 9999-12-30." in reply.text


def test_a_csv_export_to_the_last_day_of_9999_is_a_400(owner: TestClient) -> None:
    reply = owner.get("/history.csv", params={"until": "9999-12-31"})
    assert reply.status_code == 400, reply.text


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": HUGE},
        {"sender": f"staff:{HUGE}"},
        {"sender": f"api_key:{HUGE}"},
        {"client_id": "0"},
    ],
)
def test_an_id_past_32_bits_matches_nothing(owner: TestClient, params: dict[str, str]) -> None:
    page = owner.get("/history", params=params)
    assert page.status_code == 200, page.text
    export = owner.get("/history.csv", params=params)
    assert export.status_code == 200, export.text
    assert len(export.text.strip().splitlines()) == 1  # the header row only
