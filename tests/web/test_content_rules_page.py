"""Acceptable use in the web app: the composer's helper names the rule a text breaks as staff
type, and a page lists the rules in force with the policies they come from."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.staff.service import list_staff
from tests.factories import make_business
from tests.web.conftest import sign_in

HTML = {"Accept": "text/html"}


def signed_in(session: Session, context: AppContext, clock: FrozenClock, web: TestClient) -> None:
    setup = make_business(session, context.carrier, clock.now())
    (email,) = [m.email for m in list_staff(session, setup.business.id)]
    session.commit()
    assert sign_in(web, email, setup.owner_password).status_code == 303


def test_the_composer_helper_names_the_broken_rule_as_staff_type(
    session: Session, context: AppContext, clock: FrozenClock, web: TestClient
) -> None:
    signed_in(session, context, clock, web)
    refused = web.post("/app/segments", json={"body": "Shop now: bit.ly/deal"}).json()
    assert refused["refused"]["rule"] == "link_shortener"
    assert "shorteners" in refused["refused"]["reason"]
    assert refused["refused"]["policy"].startswith("https://")
    assert refused["segments"] == 1  # the count is there as before
    assert web.post("/app/segments", json={"body": "See you at 3"}).json()["refused"] is None


def test_the_policies_page_lists_the_rules_in_force_with_their_policies(
    session: Session, context: AppContext, clock: FrozenClock, web: TestClient
) -> None:
    signed_in(session, context, clock, web)
    page = web.get("/policies", headers=HTML)
    assert page.status_code == 200
    for rule in ("cannabis", "high_risk_lending", "tobacco_vaping", "link_shortener"):
        assert f'data-rule="{rule}"' in page.text
    assert 'data-rule="first_message_names_business"' not in page.text  # off by default
    assert "https://www.twilio.com/en-us/legal/messaging-policy" in page.text
