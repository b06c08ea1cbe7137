"""My preferences: each staff member's own settings (what the top-bar Message badge counts,
and whether it shows), and the badge's count for the page's script."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from messagecenter.conversations import assignment
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.staff import service as staff_service
from messagecenter.web.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(page: PageDep) -> HTMLResponse:
    return page.render("preferences.html", {})


@router.post("/preferences")
def save_preferences(
    page: PageDep,
    work: UnitOfWorkDep,
    badge_counts: Annotated[str, Form(max_length=10)] = "all",
    badge_shown: Annotated[str, Form(max_length=5)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    staff_service.set_badge_preference(work.session, page.staff, badge_counts, badge_shown == "1")
    flash(page.request, "Preferences saved.", "note")
    return redirect("/preferences")


@router.get("/app/badge")
def badge(page: PageDep) -> JSONResponse:
    """The signed-in staff member's badge count (a live unread event carries the business's
    total; a badge counting only their conversations asks here)."""
    unread = assignment.badge_count(page.session, page.staff, page.business.unread_messages)
    return JSONResponse({"unread": unread})
