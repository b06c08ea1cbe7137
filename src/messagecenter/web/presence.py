"""Who else is on a conversation: each staff page with it open says so every few seconds,
and while its text box is being typed in; the business's other pages show "Casey is viewing"
or "Casey is typing…" until the word runs out (PRESENCE_SECONDS). Nothing is stored: the word
goes out on the live stream (through the database's NOTIFY on PostgreSQL, so every process's
pages hear it)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from messagecenter.conversations import service as conversations
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.types import IdPath
from messagecenter.web.pages import PageDep

router = APIRouter(include_in_schema=False)
PRESENCE = "presence"
# How long one word lasts: pages say it again well within this (static/app.js, every 10 s).
PRESENCE_SECONDS = 25


class PresenceIn(BaseModel):
    typing: bool = False


@router.post("/app/presence/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
def say_present(
    conversation_id: IdPath, payload: PresenceIn, page: PageDep, work: UnitOfWorkDep
) -> Response:
    conversation = conversations.get_conversation(work.session, page.business.id, conversation_id)
    queue_event_on_commit(
        work.session,
        LiveEvent(
            page.business.id,
            PRESENCE,
            {
                "conversation_id": conversation.id,
                "staff_id": page.staff.id,
                "name": page.staff.name,
                "typing": payload.typing,
                "seconds": PRESENCE_SECONDS,
            },
        ),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
