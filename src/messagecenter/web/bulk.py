"""Bulk sends in the web app: write the text, pick the audience (chosen clients or a filter
over the All Clients report), see whom it reaches and skips before sending, then follow its
progress and cancel the rest. The rules are the campaigns service's; this module only shows
them and takes the forms."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.campaigns import service
from messagecenter.clients import queries as client_queries
from messagecenter.clients.queries import ClientContact
from messagecenter.errors import DomainError, InvalidInput, NotPermitted
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.http.types import IdPath
from messagecenter.models import BulkSend, Client
from messagecenter.models.ids import MAX_ID
from messagecenter.sending.compose import Sender
from messagecenter.web.pages import Page, PageDep

router = APIRouter(include_in_schema=False)
PATH = "/bulk-sends"
CHOOSABLE = 500  # clients listed to choose from (a filter reaches any number)


FormText = Annotated[str, Form(max_length=40)]


@dataclass
class SendForm:
    """The send form as posted (the new-send form, and a scheduled send's): every field a
    string or a list of them, kept as typed to show again beside a refusal."""

    body: str
    category: str
    pick: str  # filter or chosen
    client_ids: list[str]
    can_receive: str
    subscription: str
    marketing_on: str
    created_from: str
    created_to: str
    last_texted_from: str
    last_texted_to: str
    send_date: str
    send_time: str

    def audience(self) -> service.Audience:
        if self.pick == "chosen":
            ids = [int(v) for v in self.client_ids if v.isascii() and v.isdigit()]
            if any(not 1 <= i <= MAX_ID for i in ids):
                raise InvalidInput("Choose clients from the list.", field="client_ids")
            if not ids:
                raise InvalidInput("Choose at least one client.", field="client_ids")
            return service.Audience(client_ids=tuple(ids))
        if self.subscription not in ("any", "subscribed", "unsubscribed"):
            raise InvalidInput("Choose a subscription state.", field="subscription")
        return service.Audience(
            filter=service.AudienceFilter(
                can_receive=bool(self.can_receive),
                subscription=cast(service.Subscription, self.subscription),
                marketing_on=bool(self.marketing_on),
                created_from=_day(self.created_from, "created_from"),
                created_to=_day(self.created_to, "created_to"),
                last_texted_from=_day(self.last_texted_from, "last_texted_from"),
                last_texted_to=_day(self.last_texted_to, "last_texted_to"),
            )
        )

    @classmethod
    def blank(cls) -> SendForm:
        return cls("", "marketing", "filter", [], "", "subscribed", "", "", "", "", "", "", "")

    @classmethod
    def of(cls, bulk: BulkSend, zone: ZoneInfo) -> SendForm:
        """A scheduled send as its form shows it."""
        audience = service.audience_of(bulk)
        chosen = audience.filter
        local = bulk.send_at.astimezone(zone) if bulk.send_at else None

        def day(value: date | None) -> str:
            return value.isoformat() if value else ""

        return cls(
            bulk.body,
            bulk.category,
            "chosen" if audience.client_ids is not None else "filter",
            [str(i) for i in audience.client_ids or ()],
            "1" if chosen.can_receive else "",
            chosen.subscription,
            "1" if chosen.marketing_on else "",
            day(chosen.created_from),
            day(chosen.created_to),
            day(chosen.last_texted_from),
            day(chosen.last_texted_to),
            local.date().isoformat() if local else "",
            local.strftime("%H:%M") if local else "",
        )


def send_form(
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
) -> SendForm:
    return SendForm(
        body, category, pick, [v for v in (client_ids or []) if len(v) <= 12], can_receive,
        subscription, marketing_on, created_from, created_to, last_texted_from,
        last_texted_to, send_date, send_time,
    )  # fmt: skip


SendFormDep = Annotated[SendForm, Depends(send_form)]


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


def _choosable(page: Page, chosen: Sequence[str] = ()) -> list[Client | ClientContact]:
    """The clients the form lists to choose from: the first by name, and every one already
    chosen (a send made through the API may name any client: saving keeps them all)."""
    listed: list[Client | ClientContact] = list(
        client_queries.clients_by_name(page.session, page.business.id, limit=CHOOSABLE)
    )
    wanted = {int(v) for v in chosen if v.isascii() and v.isdigit() and int(v) <= MAX_ID}
    missing = wanted - {client.id for client in listed}
    found = client_queries.contacts_by_id(page.session, page.business.id, missing)
    return listed + [found[i] for i in sorted(found)]


def _may_send(page: Page) -> None:
    if not page.staff.can_send_sms:
        raise NotPermitted("You do not have permission to send SMS to clients.")


def _page(
    page: Page,
    *,
    form: SendForm | None = None,
    reach: service.Reach | None = None,
    error: str = "",
) -> HTMLResponse:
    sends = service.recent(page.session, page.business)
    return page.render(
        "bulk_sends.html",
        {
            "sends": [bulk for bulk in sends if bulk.status != "scheduled"],
            "scheduled": service.scheduled(page.session, page.business),
            "progress": service.progress(page.session, sends),
            "clients": _choosable(page, form.client_ids if form else ()),
            "form": form or SendForm.blank(),
            "reach": reach,
            "skip_words": service.SKIP_REASONS,
            "variables": service.VARIABLES,
            "error": error,
            "request_key": uuid.uuid4().hex,
        },
        status_code=400 if error else 200,
    )


@router.get(PATH, response_class=HTMLResponse)
def bulk_sends_page(page: PageDep) -> HTMLResponse:
    return _page(page)


@router.post(PATH, response_model=None)
def preview_or_send(
    page: PageDep,
    work: UnitOfWorkDep,
    form: SendFormDep,
    request_key: Annotated[str, Form(max_length=100)] = "",
    action: FormText = "preview",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """`action=preview` shows whom it reaches; `action=send` (from the preview) sends it, or
    schedules it when the form has a date and time."""
    check_csrf(page.request, csrf)
    _may_send(page)
    at = page.context.clock.now()
    try:
        audience = form.audience()
        send_at = scheduled_moment(page, form.send_date, form.send_time)
        if action != "send":
            reach = service.reach(work.session, page.business, audience, form.body,
                                  form.category, at)  # fmt: skip
            return _page(page, form=form, reach=reach)
        bulk, _ = service.create(
            work.session,
            page.business,
            request_key=request_key,
            body=form.body,
            category=form.category,
            audience=audience,
            sender=Sender.staff(page.staff.id),
            at=at,
            send_at=send_at,
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _page(page, form=form, error=refused.message)
    return redirect(f"{PATH}/{bulk.id}")


@router.post(PATH + "/{bulk_send_id}", response_model=None)
def change_scheduled(
    bulk_send_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    form: SendFormDep,
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """A scheduled send's new text, kind, audience and time."""
    check_csrf(page.request, csrf)
    _may_send(page)
    try:
        service.reschedule(
            work.session,
            page.business,
            bulk_send_id,
            at=page.context.clock.now(),
            body=form.body,
            category=form.category,
            audience=form.audience(),
            send_at=scheduled_moment(page, form.send_date, form.send_time),
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        bulk = service.get(work.session, page.business, bulk_send_id)
        return _one(page, bulk, refused.message, form)
    flash(page.request, "Saved: it goes at the time you chose.")
    return redirect(f"{PATH}/{bulk_send_id}")


@router.get(PATH + "/{bulk_send_id}", response_class=HTMLResponse)
def bulk_send_page(bulk_send_id: IdPath, page: PageDep) -> HTMLResponse:
    bulk = service.get(page.session, page.business, bulk_send_id)
    return _one(page, bulk)


def _one(page: Page, bulk: BulkSend, error: str = "", form: SendForm | None = None) -> HTMLResponse:
    progress = service.progress(page.session, [bulk])[bulk.id]
    scheduled = bulk.status == "scheduled"
    shown = form or SendForm.of(bulk, ZoneInfo(page.business.timezone))
    return page.render(
        "bulk_send.html",
        {
            "error": error,
            # A scheduled send shows its whole form, to change until it goes.
            "form": shown,
            "clients": _choosable(page, shown.client_ids) if scheduled else [],
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
    flash(page.request, "Cancelled: the texts not sent yet will not go.")
    return redirect(f"{PATH}/{bulk_send_id}")
