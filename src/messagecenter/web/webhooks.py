"""Settings → Webhooks: the owner registers endpoints of their own systems (the secret shown
once), deletes them, reads each one's delivery log and sends a delivery again. The rules are
the integrations service's; this module only shows them and takes the forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.errors import DomainError
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.http.types import IdPath
from messagecenter.integrations import service
from messagecenter.models.webhook import EVENT_TYPES
from messagecenter.web.pages import OwnerPageDep, Page

router = APIRouter(include_in_schema=False)
PATH = "/settings/webhooks"
LOG_SIZE = 100

EVENT_NOTES = {
    "message.received": "a client's text arrived",
    "message.status": "a message you sent was sent, delivered or failed",
    "client.opted_out": "a client unsubscribed (STOP)",
    "client.opted_in": "a client subscribed again (START)",
    "notification.skipped": "an automated message was not sent, with the reason",
    "notification.confirmed": "a client confirmed a booking (YES)",
}


def _page(
    page: Page,
    *,
    error: str = "",
    new_secret: str = "",
    posted_url: str = "",
    posted_description: str = "",
    posted_events: list[str] | None = None,
) -> HTMLResponse:
    return page.render(
        "webhooks.html",
        {
            "endpoints": service.list_endpoints(page.session, page.business.id),
            "event_types": EVENT_TYPES,
            "event_notes": EVENT_NOTES,
            "error": error,
            "new_secret": new_secret,
            "posted_url": posted_url,
            "posted_description": posted_description,
            "posted_events": posted_events or [],
        },
        status_code=400 if error else 200,
    )


@router.get(PATH, response_class=HTMLResponse)
def webhooks_page(page: OwnerPageDep) -> HTMLResponse:
    return _page(page)


@router.post(PATH, response_model=None)
def add_endpoint(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    url: Annotated[str, Form(max_length=service.MAX_URL_LENGTH)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
    events: Annotated[list[str] | None, Form(max_length=20)] = None,
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    check_csrf(page.request, csrf)
    chosen = [e for e in (events or []) if len(e) <= 40]
    try:
        _, secret = service.create_endpoint(
            work.session,
            page.business.id,
            url=url,
            events=chosen,
            description=description,
            at=page.context.clock.now(),
            allow_private=page.context.settings.webhooks_allow_private,
        )
    except DomainError as refused:
        work.rollback()
        return _page(
            page,
            error=refused.message,
            posted_url=url,
            posted_description=description,
            posted_events=chosen,
        )
    # The secret is shown on this response only (it commits as the route returns).
    return _page(page, new_secret=secret)


@router.post(PATH + "/{endpoint_id}/delete")
def delete_endpoint(
    endpoint_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    service.delete_endpoint(work.session, page.business.id, endpoint_id, page.context.clock.now())
    return redirect(PATH)


@router.get(PATH + "/{endpoint_id}", response_class=HTMLResponse)
def delivery_log(endpoint_id: IdPath, page: OwnerPageDep) -> HTMLResponse:
    endpoint = service.get_endpoint(page.session, page.business.id, endpoint_id)
    found = service.deliveries(page.session, page.business.id, endpoint.id, limit=LOG_SIZE)
    return page.render("webhook_log.html", {"endpoint": endpoint, "deliveries": found})


@router.post(PATH + "/{endpoint_id}/deliveries/{delivery_id}/send-again")
def send_again(
    endpoint_id: IdPath,
    delivery_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    service.send_again(
        work.session, page.business.id, endpoint_id, delivery_id, page.context.clock.now()
    )
    flash(page.request, "Queued to be sent again.")
    return redirect(f"{PATH}/{endpoint_id}")
