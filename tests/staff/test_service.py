"""Staff members of a business: listing, role, the SMS permission and deactivation; an owner
cannot lock themself out, and another business's staff are out of reach (DESIGN.md §1,
"Conversations and the inbox": staff permissions; every staff member sees only their own
business)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.events import ACCESS_ENDED, LiveEvent, pending_events
from messagecenter.models import StaffMember, WebSession
from messagecenter.staff.service import (
    create_staff_member,
    list_staff,
    owners,
    reset_password,
    staff_member,
    update_staff_member,
    verify_password,
)
from tests.factories import make_business

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Team:
    business_id: int
    owner: StaffMember
    ben: StaffMember
    ada: StaffMember
    outsider: StaffMember  # another business's staff member


@pytest.fixture
def team(session: Session, context: AppContext, clock: FrozenClock) -> Team:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")

    def member(business_id: int, email: str, name: str, can_send: bool) -> StaffMember:
        return create_staff_member(
            session, business_id=business_id, email=email, name=name, role="staff",
            can_send_sms=can_send, password=PASSWORD, at=clock.now(),
        )  # fmt: skip

    owner = list_staff(session, ours.business.id)[0]
    ben = member(ours.business.id, "ben@studio.example", "Ben", True)
    ada = member(ours.business.id, "ada@studio.example", "Ada", False)
    outsider = member(theirs.business.id, "zed@other.example", "Zed", True)
    return Team(ours.business.id, owner, ben, ada, outsider)


def test_list_staff_is_this_business_only_active_first_then_by_name(
    session: Session, team: Team
) -> None:
    assert [m.id for m in list_staff(session, team.business_id)] == [
        team.ada.id, team.ben.id, team.owner.id,  # "Ada" < "Ben" < "owner…@studio.example"
    ]  # fmt: skip
    update_staff_member(session, team.business_id, team.ada.id, acting=team.owner, active=False)
    listed = list_staff(session, team.business_id)
    assert [m.id for m in listed] == [team.ben.id, team.owner.id, team.ada.id]
    assert team.outsider.id not in {m.id for m in listed}


def test_update_the_sms_permission(session: Session, team: Team) -> None:
    changed = update_staff_member(
        session, team.business_id, team.ada.id, acting=team.owner, can_send_sms=True
    )
    assert changed is team.ada and team.ada.can_send_sms is True
    update_staff_member(
        session, team.business_id, team.ada.id, acting=team.owner, can_send_sms=False
    )
    session.refresh(team.ada)
    assert team.ada.can_send_sms is False


def test_update_the_role_both_ways(session: Session, team: Team) -> None:
    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, role="owner")
    session.refresh(team.ben)
    assert team.ben.role == "owner"
    # The new owner may demote the first one; the first owner cannot demote themself.
    update_staff_member(session, team.business_id, team.owner.id, acting=team.ben, role="staff")
    session.refresh(team.owner)
    assert team.owner.role == "staff"


def test_an_owner_always_keeps_the_sms_permission(session: Session, team: Team) -> None:
    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, role="owner")
    update_staff_member(
        session, team.business_id, team.ben.id, acting=team.owner, can_send_sms=False
    )
    assert team.ben.can_send_sms is True


def test_an_unknown_role_is_refused_and_changes_nothing(session: Session, team: Team) -> None:
    with pytest.raises(InvalidInput) as refused:
        update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, role="boss")
    assert refused.value.field == "role"
    session.refresh(team.ben)
    assert team.ben.role == "staff"


def test_deactivate_and_reactivate(session: Session, team: Team) -> None:
    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=False)
    session.refresh(team.ben)
    assert team.ben.active is False
    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=True)
    session.refresh(team.ben)
    assert team.ben.active is True


@pytest.mark.parametrize("change", [{"active": False}, {"role": "staff"}])
def test_an_owner_cannot_deactivate_themself_or_drop_their_owner_role(
    session: Session, team: Team, change: dict[str, object]
) -> None:
    with pytest.raises(Conflict):
        update_staff_member(
            session,
            team.business_id,
            team.owner.id,
            acting=team.owner,
            **change,  # type: ignore[arg-type]
        )
    session.refresh(team.owner)
    assert (team.owner.role, team.owner.active) == ("owner", True)


def test_an_owner_may_change_their_own_harmless_settings(session: Session, team: Team) -> None:
    same = update_staff_member(
        session, team.business_id, team.owner.id, acting=team.owner, role="owner", active=True
    )
    assert (same.role, same.active, same.can_send_sms) == ("owner", True, True)


@pytest.mark.parametrize("change", [{"active": False}, {"role": "owner"}, {"can_send_sms": False}])
def test_another_business_staff_member_is_not_found_and_unchanged(
    session: Session, team: Team, change: dict[str, object]
) -> None:
    with pytest.raises(NotFound):
        update_staff_member(
            session,
            team.business_id,
            team.outsider.id,
            acting=team.owner,
            **change,  # type: ignore[arg-type]
        )
    session.refresh(team.outsider)
    assert (team.outsider.active, team.outsider.role, team.outsider.can_send_sms) == (
        True, "staff", True,
    )  # fmt: skip
    with pytest.raises(NotFound):
        update_staff_member(session, team.business_id, 10_000_000, acting=team.owner, active=False)


# ---------------------------------------------------------------------------- sign-in


@pytest.fixture
def browser_like(context: AppContext) -> Iterator[TestClient]:
    """The web app in-process; https like public_url, so its Secure cookie comes back."""
    with TestClient(
        create_app(context=context, run_dispatcher=False), base_url="https://testserver"
    ) as client:
        yield client


def _login(client: TestClient, email: str, password: str) -> int:
    token = CSRF.search(client.get("/login").text)
    assert token
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf": token.group(1)},
        follow_redirects=False,
    )
    return answer.status_code


def test_a_deactivated_staff_member_cannot_sign_in(
    session: Session, team: Team, browser_like: TestClient
) -> None:
    session.commit()  # (a savepoint: the test's transaction is still rolled back)
    assert _login(browser_like, "ben@studio.example", PASSWORD) == 303
    browser_like.cookies.clear()

    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=False)
    session.commit()
    assert _login(browser_like, "ben@studio.example", PASSWORD) == 401
    page = browser_like.get("/inbox", headers={"Accept": "text/html"}, follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")


def test_deactivation_ends_a_session_already_open(
    session: Session, team: Team, browser_like: TestClient
) -> None:
    session.commit()
    assert _login(browser_like, "ben@studio.example", PASSWORD) == 303
    html = {"Accept": "text/html"}
    assert browser_like.get("/inbox", headers=html).status_code == 200

    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=False)
    session.commit()
    page = browser_like.get("/inbox", headers=html, follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")


def test_deactivation_deletes_the_web_sessions_and_raises_access_ended(
    session: Session, team: Team, clock: FrozenClock
) -> None:
    for member in (team.ben, team.ben, team.ada):
        session.add(
            WebSession(
                id=secrets.token_hex(32), staff_id=member.id, created_at=clock.now(),
                expires_at=clock.now() + timedelta(hours=12),
            )
        )  # fmt: skip
    session.flush()

    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=False)
    left = session.scalars(select(WebSession.staff_id)).all()
    assert left == [team.ada.id]  # Ben's two sessions ended; Ada's untouched
    assert pending_events(session) == [
        LiveEvent(team.business_id, ACCESS_ENDED, {"staff_id": team.ben.id})
    ]
    # Deactivating again, or any other change, ends nothing more.
    update_staff_member(session, team.business_id, team.ben.id, acting=team.owner, active=False)
    update_staff_member(session, team.business_id, team.ada.id, acting=team.owner, role="owner")
    assert len(pending_events(session)) == 1


# ---------------------------------------------------------------------------- password reset


def test_a_reset_password_replaces_the_old_one_and_ends_their_sessions(
    session: Session, team: Team, clock: FrozenClock
) -> None:
    for member in (team.ben, team.ada):
        session.add(
            WebSession(
                id=secrets.token_hex(32), staff_id=member.id, created_at=clock.now(),
                expires_at=clock.now() + timedelta(hours=12),
            )
        )  # fmt: skip
    session.flush()

    password = reset_password(session, team.ben)
    assert len(password) >= 12 and password != PASSWORD
    assert verify_password(team.ben.password_hash, password)
    assert not verify_password(team.ben.password_hash, PASSWORD)
    assert session.scalars(select(WebSession.staff_id)).all() == [team.ada.id]
    assert pending_events(session) == [
        LiveEvent(team.business_id, ACCESS_ENDED, {"staff_id": team.ben.id})
    ]
    assert reset_password(session, team.ben) != password  # a fresh one each time


def test_staff_member_is_this_business_only(session: Session, team: Team) -> None:
    assert staff_member(session, team.business_id, team.ben.id) is team.ben
    with pytest.raises(NotFound):
        staff_member(session, team.business_id, team.outsider.id)


def test_owners_are_the_active_owners_oldest_first(session: Session, team: Team) -> None:
    assert owners(session, team.business_id) == [team.owner]
    update_staff_member(session, team.business_id, team.ada.id, acting=team.owner, role="owner")
    assert owners(session, team.business_id) == [team.owner, team.ada]
    update_staff_member(session, team.business_id, team.ada.id, acting=team.owner, active=False)
    assert owners(session, team.business_id) == [team.owner]
