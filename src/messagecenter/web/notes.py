"""The conversation page's internal note form (the rules are notes/service.py's; the thread
shows the notes among the messages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse

from messagecenter.conversations import service as conversations
from messagecenter.errors import DomainError
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.http.types import IdPath
from messagecenter.models.note import MAX_NOTE_CHARACTERS
from messagecenter.notes import service
from messagecenter.web.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.post("/conversations/{conversation_id}/notes")
def add_note(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    body: Annotated[str, Form(max_length=MAX_NOTE_CHARACTERS * 2)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Leave a note for colleagues in the thread (any staff member: nothing is sent).
    A refused note comes back as the page's error, nothing kept."""
    check_csrf(page.request, csrf)
    conversation = conversations.get_conversation(work.session, page.business.id, conversation_id)
    try:
        service.add_note(work.session, conversation, body=body, at=page.context.clock.now(),
                         author=page.staff)  # fmt: skip
    except DomainError as refused:
        work.rollback()
        flash(page.request, refused.message, "error")
    return redirect(f"/conversations/{conversation_id}")
