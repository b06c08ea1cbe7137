"""Browser notifications of new texts: a staff member switches them on for their browser
(the permission is the browser's own, asked there), and each page then asks here, for each
text the live stream announces, whether it is one to show and what it says. Shown: a client's
text in a conversation that is not muted or blocked, and is assigned to this staff member or
to no one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from messagecenter.conversations import queries
from messagecenter.conversations import service as conversations
from messagecenter.http.readable import phone_text
from messagecenter.http.types import IdPath
from messagecenter.models import Client
from messagecenter.models.message import DIRECTION_INBOUND
from messagecenter.web.pages import PageDep

router = APIRouter(include_in_schema=False)
NOTICE_LENGTH = 120  # of the text, in the notification


@router.get("/app/notices/{message_id}")
def notice_for(message_id: IdPath, page: PageDep) -> JSONResponse:
    session, business = page.session, page.business
    message = queries.get_message(session, business.id, message_id)
    if message is None or message.direction != DIRECTION_INBOUND:
        return JSONResponse({"show": False})
    conversation = conversations.get_conversation(session, business.id, message.conversation_id)
    if conversation.muted or conversation.blocked_at is not None:
        return JSONResponse({"show": False})
    if conversation.assignee_id not in (None, page.staff.id):  # a colleague's to answer
        return JSONResponse({"show": False})
    client = session.get(Client, conversation.client_id) if conversation.client_id else None
    who = (
        f"{client.first_name} {client.last_name}".strip()
        if client
        else phone_text(conversation.phone, business.country)
    )
    return JSONResponse(
        {
            "show": True,
            "title": who,
            "body": (message.body or "(picture message)")[:NOTICE_LENGTH],
            "url": f"/conversations/{conversation.id}",
            "tag": f"conversation-{conversation.id}",
        }
    )
