"""Settings → Business hours: the days the business opens and from when to when, which
decide the after-hours answer (intake/after_hours.py). The rules are businesses/hours.py's;
this module shows them and takes the form."""

from __future__ import annotations

from datetime import time
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.businesses import hours
from messagecenter.errors import DomainError, InvalidInput
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.pages import redirect
from messagecenter.notifications import service as notifications
from messagecenter.notifications.catalogue import AFTER_HOURS
from messagecenter.web.pages import OwnerPageDep, Page

router = APIRouter(include_in_schema=False)
PATH = "/settings/business-hours"
DEFAULT_DAY = ("09:00", "17:00")  # what a day newly ticked open shows


def _page(page: Page, days: list[tuple[bool, str, str]], error: str = "") -> HTMLResponse:
    answer_on = any(
        view.enabled for view in notifications.templates(page.session, page.business)
        if view.kind.name == AFTER_HOURS
    )  # fmt: skip
    return page.render(
        "business_hours.html",
        {"days": list(zip(hours.WEEKDAYS, days, strict=True)), "error": error,
         "answer_on": answer_on, "timezone": page.business.timezone},
        status_code=400 if error else 200,
    )  # fmt: skip


@router.get(PATH, response_class=HTMLResponse)
def business_hours_page(page: OwnerPageDep) -> HTMLResponse:
    week = hours.week_of(page.session, page.business.id)
    days = []
    for day in range(7):
        if day in week:
            opens, closes = week[day]
            days.append((True, f"{hours.as_time(opens):%H:%M}", f"{hours.as_time(closes):%H:%M}"))
        else:
            days.append((False, *DEFAULT_DAY))
    return _page(page, days)


@router.post(PATH, response_model=None)
def save_business_hours(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    open_days: Annotated[list[str], Form(max_length=7)] = [],  # noqa: B006 (FastAPI copies it)
    opens: Annotated[list[str], Form(max_length=7)] = [],  # noqa: B006
    closes: Annotated[list[str], Form(max_length=7)] = [],  # noqa: B006
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(page.request, csrf)
    typed = [
        (str(day) in open_days, _at(opens, day), _at(closes, day)) for day in range(7)
    ]  # what was typed comes back with a refusal
    try:
        hours.save_week(
            work.session,
            page.business.id,
            {
                day: (_time(opens_at, day, "opening"), _time(closes_at, day, "closing"))
                if is_open
                else None
                for day, (is_open, opens_at, closes_at) in enumerate(typed)
            },
        )
    except DomainError as refused:
        work.rollback()
        return _page(page, typed, refused.message)
    return redirect(PATH)


def _at(values: list[str], day: int) -> str:
    return values[day].strip() if day < len(values) else ""


def _time(value: str, day: int, which: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{hours.WEEKDAYS[day]}: give the {which} time as hours and minutes, e.g. 09:00.",
            field=hours.WEEKDAYS[day].lower(),
        ) from None
