"""Settings → Saved replies: the business's answers to what clients often ask, added,
changed and deleted (the rules are saved_replies/service.py's; the composer inserts them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from messagecenter.conversations import service as conversations
from messagecenter.errors import DomainError, InvalidInput
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.pages import redirect
from messagecenter.http.types import IdPath
from messagecenter.saved_replies import service
from messagecenter.web.pages import OwnerPageDep, Page, PageDep

router = APIRouter(include_in_schema=False)
PATH = "/settings/saved-replies"


def _page(
    page: Page, *, error: str = "", failed: int | None = None, name: str = "", body: str = ""
) -> HTMLResponse:
    """The list and the add form; a refused change comes back with what was typed, on the
    form it was typed in (`failed`: a reply's id, 0 the add form)."""
    return page.render(
        "saved_replies.html",
        {"replies": service.list_replies(page.session, page.business), "error": error,
         "failed": failed, "posted_name": name, "posted_body": body,
         "variables": service.VARIABLES},
        status_code=400 if error else 200,
    )  # fmt: skip


@router.get(PATH, response_class=HTMLResponse)
def saved_replies_page(page: OwnerPageDep) -> HTMLResponse:
    return _page(page)


@router.post(PATH, response_model=None)
def add_saved_reply(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    name: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=3200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(page.request, csrf)
    try:
        service.save_reply(work.session, page.business, name=name, body=body,
                           at=page.context.clock.now())  # fmt: skip
    except DomainError as refused:
        work.rollback()
        return _page(page, error=refused.message, failed=0, name=name, body=body)
    return redirect(PATH)


@router.post(PATH + "/{saved_reply_id}", response_model=None)
def change_saved_reply(
    saved_reply_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    name: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=3200)] = "",
    action: Annotated[str, Form(pattern="^(save|delete)$")] = "save",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(page.request, csrf)
    reply = service.get_reply(work.session, page.business, saved_reply_id)
    if action == "delete":
        service.delete_reply(work.session, reply)
        return redirect(PATH)
    try:
        service.save_reply(work.session, page.business, name=name, body=body,
                           at=page.context.clock.now(), reply=reply)  # fmt: skip
    except DomainError as refused:
        work.rollback()
        return _page(page, error=refused.message, failed=saved_reply_id, name=name, body=body)
    return redirect(PATH)


@router.get("/app/saved-replies/{conversation_id}")
def saved_replies_for(conversation_id: IdPath, page: PageDep) -> JSONResponse:
    """The composer's picker: every saved reply, filled in for this conversation's client
    (or why it cannot be: a variable their profile lacks)."""
    conversation = conversations.get_conversation(page.session, page.business.id, conversation_id)
    items = []
    for reply in service.list_replies(page.session, page.business):
        try:
            text, problem = service.text_for(page.session, page.business, reply, conversation), ""
        except InvalidInput as refused:
            text, problem = "", refused.message
        items.append({"name": reply.name, "text": text, "problem": problem})
    return JSONResponse({"items": items})
