"""The owner's page of texts that reached an old number (numbers/unrouted.py): who sent
each (the client's name where the number is a client's) and a way to text back from the
current number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from messagecenter.businesses.queries import active_number
from messagecenter.errors import DomainError
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.http.readable import phone_text
from messagecenter.http.types import IdPath
from messagecenter.numbers import unrouted
from messagecenter.web.pages import OwnerPageDep

router = APIRouter(include_in_schema=False)
PATH = "/settings/unrouted-texts"
QUOTED = 160  # characters of their text quoted at the top of the conversation


@router.get(PATH, response_class=HTMLResponse)
def unrouted_texts(page: OwnerPageDep) -> HTMLResponse:
    session, business_id = page.session, page.business.id
    return page.render(
        "unrouted.html",
        {
            "texts": unrouted.unrouted_texts(session, business_id),
            "total": unrouted.unrouted_count(session, business_id),
            "listed": unrouted.LISTED,
            "current": active_number(session, business_id),
        },
    )


@router.post(PATH + "/{unrouted_id}/answer")
def answer(
    unrouted_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Open (or start) the conversation with the sender, to text back from the current
    number, with what they wrote to the old one said at its top."""
    check_csrf(page.request, csrf)
    try:
        conversation, text, current = unrouted.answer_from_current_number(
            work.session, page.business, unrouted_id, page.context.clock.now()
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        flash(page.request, refused.message, "error")
        return redirect(PATH)
    body = text.body if len(text.body) <= QUOTED else text.body[: QUOTED - 1] + "…"
    wrote = f"“{body}”" if body else "a text with no words"
    sender, old, new = (phone_text(n, page.business.country)
                        for n in (text.from_phone, text.to_phone, current))  # fmt: skip
    flash(page.request, f"{sender} wrote {wrote} to your old number {old}. "
          f"Your reply here goes from your current number, {new}.")  # fmt: skip
    return redirect(f"/conversations/{conversation.id}")
