"""One dependency for a staff page: the request, its session, the signed-in staff member,
their business and the process context, with `render` filled in with all of them (instead of
every route repeating the four parameters and passing them on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from messagecenter.businesses.usage import UsageSummary
from messagecenter.context import AppContext
from messagecenter.errors import NotPermitted
from messagecenter.http.deps import ContextDep, SessionDep
from messagecenter.http.pages import render
from messagecenter.models import Business, StaffMember
from messagecenter.models.staff import ROLE_OWNER
from messagecenter.notes import service as notes
from messagecenter.web.auth import StaffBusinessDep, StaffDep


@dataclass(frozen=True)
class Page:
    request: Request
    # The request's one session (FastAPI caches it per request): a writing route's
    # UnitOfWorkDep holds this same session, so the page shows what the route changed.
    session: Session
    staff: StaffMember
    business: Business
    context: AppContext

    def render(
        self,
        template: str,
        values: dict[str, Any],
        *,
        status_code: int = 200,
        usage_summary: UsageSummary | None = None,
    ) -> HTMLResponse:
        # Mentions wait for their staff member on every page until they open the conversation.
        waiting = notes.unseen_mentions(self.session, self.business.id, self.staff.id)
        return render(
            self.request,
            template,
            values | {"waiting_mentions": waiting},
            staff=self.staff,
            business=self.business,
            session=self.session,
            usage_summary=usage_summary,
            status_code=status_code,
        )


def staff_page(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    business: StaffBusinessDep,
    context: ContextDep,
) -> Page:
    return Page(request, session, staff, business, context)


def owner_page(page: Annotated[Page, Depends(staff_page)]) -> Page:
    if page.staff.role != ROLE_OWNER:
        raise NotPermitted("Only the business owner can open this page.")
    return page


PageDep = Annotated[Page, Depends(staff_page)]
OwnerPageDep = Annotated[Page, Depends(owner_page)]
