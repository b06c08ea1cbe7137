"""The simulated client phone: a person plays a client, reads what the business sent them
and texts back (only with the simulated carrier). Live: its script refreshes the thread as
texts and status reports arrive. A text that cannot go comes back on the page, as typed."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.clients import queries as client_queries
from messagecenter.clients.phone import parse_phone
from messagecenter.conversations import present, queries
from messagecenter.errors import DomainError, InvalidInput, NotPermitted
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.pages import fragment, redirect
from messagecenter.models import Message
from messagecenter.web.pages import Page, PageDep

router = APIRouter(include_in_schema=False)
PATH = "/phone"
THREAD_SIZE = 200  # the newest texts between the phone and the business


def _simulated(page: Page) -> None:
    if page.context.simulator is None:
        raise NotPermitted("The client phone is only there with the simulated carrier.")


def _thread(page: Page, number: str) -> tuple[str, list[Message]]:
    """The number as E.164 when it is one (else as typed, with nothing found) and its texts."""
    if not number:
        return number, []
    with contextlib.suppress(DomainError):
        number = parse_phone(number, page.business.country, field="number")
    return number, queries.messages_with_phone(
        page.session, page.business.id, number, limit=THREAD_SIZE
    )


def _page(page: Page, number: str, *, body: str = "", error: str = "") -> HTMLResponse:
    number, messages = _thread(page, number)
    phones = [
        (c.cell_phone, f"{c.first_name} {c.last_name}".strip())
        for c in client_queries.clients_with_cell_phone(page.session, page.business.id)
    ]
    values: dict[str, Any] = {
        "phones": phones, "number": number, "messages": messages, "body": body, "error": error,
        "sms_number": present.active_number_of(page.session, page.business.id),
    }  # fmt: skip
    return page.render("phone.html", values, status_code=400 if error else 200)


@router.get(PATH, response_class=HTMLResponse)
def client_phone(
    page: PageDep,
    number: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """Play a client's phone on the simulated carrier: see what the business sent, text back."""
    _simulated(page)
    return _page(page, number)


@router.get(PATH + "/thread", response_class=HTMLResponse)
def client_phone_thread(
    page: PageDep,
    number: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The phone's thread alone, for the page's live refresh."""
    _simulated(page)
    number, messages = _thread(page, number)
    return fragment(
        page.request,
        "_phone_thread.html",
        {"number": number, "messages": messages, "business": page.business},
    )


@router.post(PATH, response_model=None)
def client_phone_text(
    page: PageDep,
    work: UnitOfWorkDep,
    number: Annotated[str, Form(max_length=40)] = "",
    body: Annotated[str, Form(max_length=1600)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    check_csrf(page.request, csrf)
    _simulated(page)
    context, business = page.context, page.business
    simulator = context.simulator
    assert simulator is not None
    try:
        sms_number = present.active_number_of(work.session, business.id)
        if sms_number is None:
            raise NotPermitted("The business has no SMS number yet: choose one in Settings.")
        phone = parse_phone(number, business.country, field="number")
        if not body.strip():
            raise InvalidInput("Type the text to send.", field="body")
    except DomainError as refused:
        # Back on the page with the text as typed and what to fix, not on an error page.
        return _page(page, number, body=body, error=refused.message)
    # The simulated carrier hands the text to the intake, which writes in its own unit of
    # work: this request's session lets go of its connection (SQLite has one) first. It has
    # nothing to commit; the unit of work still wakes the worker for the text.
    work.session.close()
    sid = simulator.receive_from_phone(phone, sms_number, body)
    # On PostgreSQL the intake only queued it, and the worker (woken for it) may be recording
    # it: have it recorded before redirecting, so the page shows it.
    context.intake.process_queued_through(sid)
    return redirect(PATH, number=phone)
