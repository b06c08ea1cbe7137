"""Bulk sends in the web app: write the text, pick the audience (chosen clients or a filter
over the All Clients report), see whom it reaches and skips before sending, then follow its
progress and cancel the rest. The rules are the campaigns service's; this module only shows
them and takes the forms."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.campaigns import service
from messagecenter.clients import queries as client_queries
from messagecenter.errors import DomainError, InvalidInput, NotPermitted
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.pages import redirect
from messagecenter.http.types import IdPath
from messagecenter.models import BulkSend
from messagecenter.sending.compose import Sender
from messagecenter.web.pages import Page, PageDep

router = APIRouter(include_in_schema=False)
PATH = "/bulk-sends"
CHOOSABLE = 500  # clients listed to choose from (a filter reaches any number)


class _Form:
    """The new-send form as posted (every field a string or a list of them)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def audience(self) -> service.Audience:
        if self.values["pick"] == "chosen":
            ids = [int(v) for v in self.values["client_ids"] if v.isdigit()]
            if not ids:
                raise InvalidInput("Choose at least one client.", field="client_ids")
            return service.Audience(client_ids=tuple(ids))
        subscription = self.values["subscription"]
        if subscription not in ("any", "subscribed", "unsubscribed"):
            raise InvalidInput("Choose a subscription state.", field="subscription")
        return service.Audience(
            filter=service.AudienceFilter(
                can_receive=bool(self.values["can_receive"]),
                subscription=subscription,
                marketing_on=bool(self.values["marketing_on"]),
                created_from=_day(self.values["created_from"], "created_from"),
                created_to=_day(self.values["created_to"], "created_to"),
                last_texted_from=_day(self.values["last_texted_from"], "last_texted_from"),
                last_texted_to=_day(self.values["last_texted_to"], "last_texted_to"),
            )
        )


def scheduled_moment(page: Page, day: str, clock: str) -> datetime | None:
    """A form's date and time (both, or neither: now) as the business's wall clock."""
    if not day and not clock:
        return None
    when = _day(day, "send_date")
    if when is None or not clock:
        raise InvalidInput("Give both the date and the time, or neither.", field="send_date")
    try:
        at = time.fromisoformat(clock)
    except ValueError:
        raise InvalidInput("Give a time such as 09:30.", field="send_time") from None
    return service.wall_clock_moment(page.business, when, at)


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Give a date such as 2026-11-30.", field=name) from None


def _may_send(page: Page) -> None:
    if not page.staff.can_send_sms:
        raise NotPermitted("You do not have permission to send SMS to clients.")


def _page(
    page: Page,
    *,
    form: dict[str, Any] | None = None,
    reach: service.Reach | None = None,
    error: str = "",
) -> HTMLResponse:
    sends = service.recent(page.session, page.business)
    return page.render(
        "bulk_sends.html",
        {
            "sends": sends,
            "progress": service.progress(page.session, sends),
            "clients": client_queries.clients_by_name(
                page.session, page.business.id, limit=CHOOSABLE
            ),
            "form": form or _blank(),
            "reach": reach,
            "skip_words": service.SKIP_REASONS,
            "variables": service.VARIABLES,
            "error": error,
            "request_key": uuid.uuid4().hex,
        },
        status_code=400 if error else 200,
    )


def _blank() -> dict[str, Any]:
    return {
        "body": "",
        "category": "marketing",
        "pick": "filter",
        "client_ids": [],
        "can_receive": "",
        "subscription": "subscribed",
        "marketing_on": "",
        "created_from": "",
        "created_to": "",
        "last_texted_from": "",
        "last_texted_to": "",
        "send_date": "",
        "send_time": "",
    }


FormText = Annotated[str, Form(max_length=40)]


@router.get(PATH, response_class=HTMLResponse)
def bulk_sends_page(page: PageDep) -> HTMLResponse:
    return _page(page)


@router.post(PATH, response_model=None)
def preview_or_send(
    page: PageDep,
    work: UnitOfWorkDep,
    body: Annotated[str, Form(max_length=3200)] = "",
    category: FormText = "marketing",
    pick: FormText = "filter",
    client_ids: Annotated[list[str] | None, Form(max_length=CHOOSABLE)] = None,
    can_receive: FormText = "",
    subscription: FormText = "any",
    marketing_on: FormText = "",
    created_from: FormText = "",
    created_to: FormText = "",
    last_texted_from: FormText = "",
    last_texted_to: FormText = "",
    send_date: FormText = "",
    send_time: FormText = "",
    request_key: Annotated[str, Form(max_length=100)] = "",
    action: FormText = "preview",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """`action=preview` shows whom it reaches; `action=send` (from the preview) sends it."""
    check_csrf(page.request, csrf)
    _may_send(page)
    values = {
        "body": body, "category": category, "pick": pick,
        "client_ids": [v for v in (client_ids or []) if len(v) <= 12],
        "can_receive": can_receive, "subscription": subscription, "marketing_on": marketing_on,
        "created_from": created_from, "created_to": created_to,
        "last_texted_from": last_texted_from, "last_texted_to": last_texted_to,
        "send_date": send_date, "send_time": send_time,
    }  # fmt: skip
    at = page.context.clock.now()
    try:
        audience = _Form(values).audience()
        send_at = scheduled_moment(page, send_date, send_time)
        if action != "send":
            reach = service.reach(work.session, page.business, audience, body, category, at)
            return _page(page, form=values, reach=reach)
        bulk, _ = service.create(
            work.session,
            page.business,
            request_key=request_key,
            body=body,
            category=category,
            audience=audience,
            sender=Sender.staff(page.staff.id),
            at=at,
            send_at=send_at,
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _page(page, form=values, error=refused.message)
    return redirect(f"{PATH}/{bulk.id}")


@router.post(PATH + "/{bulk_send_id}", response_model=None)
def change_scheduled(
    bulk_send_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    body: Annotated[str, Form(max_length=3200)] = "",
    send_date: FormText = "",
    send_time: FormText = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """A scheduled send's new text and time."""
    check_csrf(page.request, csrf)
    _may_send(page)
    try:
        service.reschedule(
            work.session,
            page.business,
            bulk_send_id,
            at=page.context.clock.now(),
            body=body,
            send_at=scheduled_moment(page, send_date, send_time),
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _one(page, service.get(work.session, page.business, bulk_send_id), refused.message)
    return redirect(f"{PATH}/{bulk_send_id}", saved="1")


@router.get(PATH + "/{bulk_send_id}", response_class=HTMLResponse)
def bulk_send_page(bulk_send_id: IdPath, page: PageDep) -> HTMLResponse:
    bulk = service.get(page.session, page.business, bulk_send_id)
    return _one(page, bulk)


def _one(page: Page, bulk: BulkSend, error: str = "") -> HTMLResponse:
    progress = service.progress(page.session, [bulk])[bulk.id]
    local = bulk.send_at.astimezone(ZoneInfo(page.business.timezone)) if bulk.send_at else None
    return page.render(
        "bulk_send.html",
        {
            "error": error,
            "send_date": local.date().isoformat() if local else "",
            "send_time": local.strftime("%H:%M") if local else "",
            "bulk": bulk,
            "progress": progress,
            "skip_words": service.SKIP_REASONS,
            # Refreshed while texts still wait: the page follows the send as it drains.
            "live": bulk.status == "sent" and progress.queued > 0,
        },
        status_code=400 if error else 200,
    )


@router.post(PATH + "/{bulk_send_id}/cancel")
def cancel(
    bulk_send_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    _may_send(page)
    service.cancel(work.session, page.business, bulk_send_id, page.context.clock.now())
    return redirect(f"{PATH}/{bulk_send_id}", cancelled="1")
