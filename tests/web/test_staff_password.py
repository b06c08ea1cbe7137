"""The owner resets a staff member's password from the Staff page: asked first, the new one
shown once, the member's sessions ended (web/manage.py)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.models import StaffMember
from messagecenter.staff.service import staff_by_email
from tests.web.conftest import CLERK_EMAIL, CLERK_PASSWORD, Shop, csrf_of, sign_in
from tests.web.flash_text import flashes_of


def _clerk(session: Session) -> StaffMember:
    member = staff_by_email(session, CLERK_EMAIL)
    assert member is not None
    return member


def test_a_reset_asks_first_then_shows_the_new_password_once(session: Session, shop: Shop) -> None:
    clerk = _clerk(session)
    token = csrf_of(shop.owner.get("/staff").text)
    path = f"/staff/{clerk.id}/password"

    asked = shop.owner.post(path, data={"csrf": token})
    assert asked.status_code == 200 and 'id="reset-confirm"' in asked.text
    assert "Give Casey a new password?" in asked.text
    assert shop.clerk.get("/inbox").status_code == 200  # nothing changed yet

    done = shop.owner.post(path, data={"csrf": token, "confirm": "yes"})
    assert done.status_code == 200
    found = re.search(rf"{re.escape(CLERK_EMAIL)} can now sign in with the new password (\S+) —",
                      done.text)  # fmt: skip
    assert found is not None
    password = found.group(1)
    assert password not in shop.owner.get("/staff").text  # once only

    # Signed out at once; the old password no longer works, the new one does.
    kicked = shop.clerk.get("/inbox", follow_redirects=False)
    assert (kicked.status_code, kicked.headers["location"]) == (303, "/login")
    assert sign_in(shop.clerk, CLERK_EMAIL, CLERK_PASSWORD).status_code == 401
    assert sign_in(shop.clerk, CLERK_EMAIL, password).status_code == 303


def test_the_owner_does_not_reset_their_own_here(session: Session, shop: Shop) -> None:
    page = shop.owner.get("/staff").text
    owner_id = re.search(r'<tr data-staff-id="(\d+)">(?:(?!</tr>).)*\(you\)', page, re.S)
    assert owner_id is not None
    answer = shop.owner.post(
        f"/staff/{owner_id[1]}/password",
        data={"csrf": csrf_of(page), "confirm": "yes"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/staff")
    assert "messagecenter staff reset-password" in flashes_of(shop.owner.get("/staff").text)
    assert shop.owner.get("/inbox").status_code == 200  # still signed in


def test_a_staff_member_cannot_reset_anyone(session: Session, shop: Shop) -> None:
    token = csrf_of(shop.clerk.get("/inbox").text)
    answer = shop.clerk.post(
        f"/staff/{_clerk(session).id}/password", data={"csrf": token, "confirm": "yes"}
    )
    assert answer.status_code == 403


def test_another_business_staff_member_is_not_found(
    session: Session, shop: Shop, web: TestClient
) -> None:
    token = csrf_of(shop.owner.get("/staff").text)
    answer = shop.owner.post("/staff/99999/password", data={"csrf": token, "confirm": "yes"})
    assert answer.status_code == 404
