"""Settings → Business hours: the week shown and saved, a refused day explained with what was
typed kept; owners only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from messagecenter.businesses import hours
from tests.web.conftest import Shop, csrf_of

PATH = "/settings/business-hours"
WEEK = {"opens": ["09:00"] * 7, "closes": ["17:00"] * 5 + ["14:00", "17:00"]}


def test_the_owner_sets_the_days_and_hours_and_reads_them_back(
    shop: Shop, session: Session
) -> None:
    assert f'href="{PATH}"' in shop.owner.get("/settings").text
    page = shop.owner.get(PATH)
    assert page.status_code == 200 and "Monday" in page.text and "Sunday" in page.text
    saved = shop.owner.post(
        PATH,
        data={"csrf": csrf_of(page.text), "open_days": ["0", "1", "2", "3", "4", "5"], **WEEK},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    week = hours.week_of(session, shop.business.id)
    assert week == {**{d: (540, 1020) for d in range(5)}, 5: (540, 840)}  # Sunday closed
    again = shop.owner.get(PATH).text
    assert 'id="open-5" aria-label="Open on Saturday" checked' in again
    assert 'id="open-6" aria-label="Open on Sunday" >' in again
    assert 'id="closes-5" aria-label="Saturday closes" value="14:00"' in again


def test_a_day_closing_before_it_opens_is_refused_with_the_form_kept(
    shop: Shop, session: Session
) -> None:
    page = shop.owner.get(PATH)
    refused = shop.owner.post(
        PATH,
        data={
            "csrf": csrf_of(page.text),
            "open_days": ["2"],
            "opens": ["09:00"] * 7,
            "closes": ["17:00", "17:00", "08:00", "17:00", "17:00", "17:00", "17:00"],
        },
    )
    assert refused.status_code == 400
    assert "Wednesday: the opening time must come before the closing time" in refused.text
    assert 'id="closes-2" aria-label="Wednesday closes" value="08:00"' in refused.text
    session.expire_all()
    assert hours.week_of(session, shop.business.id) == {}


def test_a_time_that_is_not_one_is_refused(shop: Shop) -> None:
    page = shop.owner.get(PATH)
    refused = shop.owner.post(
        PATH,
        data={"csrf": csrf_of(page.text), "open_days": ["0"], "opens": ["9am"], "closes": ["5pm"]},
    )
    assert refused.status_code == 400
    assert "Monday: give the opening time as hours and minutes, e.g. 09:00." in refused.text


def test_staff_cannot_change_the_hours(shop: Shop) -> None:
    assert shop.clerk.get(PATH).status_code == 403
