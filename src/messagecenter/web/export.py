"""A conversation taken away: its CSV and its printable page (conversations/export.py says
what they hold)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, StreamingResponse

from messagecenter.consent import queries as consent_queries
from messagecenter.conversations import export
from messagecenter.conversations import service as conversations
from messagecenter.http.types import IdPath
from messagecenter.models import Client
from messagecenter.web.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.get("/conversations/{conversation_id}/export.csv")
def conversation_csv(conversation_id: IdPath, page: PageDep) -> StreamingResponse:
    conversation = conversations.get_conversation(page.session, page.business.id, conversation_id)
    found = export.entries(page.session, conversation, page.business.timezone)
    name = f"conversation-{conversation.id}.csv"
    return StreamingResponse(
        export.as_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/conversations/{conversation_id}/print", response_class=HTMLResponse)
def conversation_print(conversation_id: IdPath, page: PageDep) -> HTMLResponse:
    session, business = page.session, page.business
    conversation = conversations.get_conversation(session, business.id, conversation_id)
    client = session.get(Client, conversation.client_id) if conversation.client_id else None
    return page.render(
        "conversation_print.html",
        {"conversation": conversation, "client": client,
         "consent": consent_queries.consent_for(session, business.id, conversation.phone),
         "entries": export.entries(session, conversation, business.timezone)},
    )  # fmt: skip
