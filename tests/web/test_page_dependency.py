"""The Page dependency (web/pages.py): a writing route's page and its unit of work hold the
request's one session, and the owner-only variant refuses staff who are not the owner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.context import AppContext
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.staff.service import create_staff_member
from messagecenter.web.pages import OwnerPageDep, PageDep
from tests.factories import make_business
from tests.web.conftest import owner_email_of, sign_in


@pytest.fixture
def probe(context: AppContext) -> Iterator[TestClient]:
    """The app with two routes that say what their dependencies were given."""
    app = create_app(context=context, run_dispatcher=False)

    @app.get("/probe/page")
    def page_and_work(page: PageDep, work: UnitOfWorkDep) -> JSONResponse:
        return JSONResponse(
            {"same_session": page.session is work.session, "staff": page.staff.email}
        )

    @app.get("/probe/owner")
    def owner_page(page: OwnerPageDep) -> JSONResponse:
        return JSONResponse({"business": page.business.id})

    with TestClient(app, base_url="https://testserver") as client:  # the cookie is Secure
        yield client


def test_the_page_and_the_unit_of_work_share_the_request_session(
    probe: TestClient, session: Session, context: AppContext
) -> None:
    setup = make_business(session, context.carrier, context.clock.now())
    session.commit()
    email = owner_email_of(session, setup.business.id)
    assert sign_in(probe, email, setup.owner_password).status_code == 303
    answer = probe.get("/probe/page")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"same_session": True, "staff": email}
    assert probe.get("/probe/owner").json() == {"business": setup.business.id}


def test_the_owner_page_refuses_a_staff_member_who_is_not_the_owner(
    probe: TestClient, session: Session, context: AppContext
) -> None:
    setup = make_business(session, context.carrier, context.clock.now())
    create_staff_member(
        session, business_id=setup.business.id, email="sam@example.com", name="Sam",
        role="staff", can_send_sms=True, password="a long enough password", at=context.clock.now(),
    )  # fmt: skip
    session.commit()
    assert sign_in(probe, "sam@example.com", "a long enough password").status_code == 303
    assert probe.get("/probe/page").status_code == 200
    refused = probe.get("/probe/owner", headers={"Accept": "application/json"})
    assert refused.status_code == 403
