"""JSON API: a business's saved replies, and one filled in for a conversation's client."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from messagecenter.conversations import service as conversations
from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath
from messagecenter.models import SavedReply
from messagecenter.saved_replies import service
from messagecenter.saved_replies.schemas import (
    SavedReplyIn,
    SavedReplyList,
    SavedReplyOut,
    SavedReplyPatch,
    SavedReplyTextIn,
    SavedReplyTextOut,
)

router = APIRouter(tags=["saved replies"])


@router.get("/saved-replies", response_model=SavedReplyList)
def list_saved_replies(session: SessionDep, business: BusinessDep) -> SavedReplyList:
    """Every saved reply of the business, by name."""
    return SavedReplyList(items=[_out(r) for r in service.list_replies(session, business)])


@router.post("/saved-replies", response_model=SavedReplyOut, status_code=status.HTTP_201_CREATED)
def create_saved_reply(
    body: SavedReplyIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> SavedReplyOut:
    """Save a reply (201). Refused: a name that is not one word or is taken (409
    name_taken), an empty text, a variable a saved reply cannot have (400, listing them)."""
    reply = service.save_reply(
        work.session, business, name=body.name, body=body.body, at=context.clock.now()
    )
    return _out(reply)


@router.patch("/saved-replies/{saved_reply_id}", response_model=SavedReplyOut)
def change_saved_reply(
    saved_reply_id: IdPath,
    body: SavedReplyPatch,
    work: UnitOfWorkDep,
    business: BusinessDep,
    context: ContextDep,
) -> SavedReplyOut:
    reply = service.get_reply(work.session, business, saved_reply_id)
    changed = service.save_reply(
        work.session,
        business,
        name=reply.name if body.name is None else body.name,
        body=reply.body if body.body is None else body.body,
        at=context.clock.now(),
        reply=reply,
    )
    return _out(changed)


@router.delete("/saved-replies/{saved_reply_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_saved_reply(
    saved_reply_id: IdPath, work: UnitOfWorkDep, business: BusinessDep
) -> Response:
    service.delete_reply(work.session, service.get_reply(work.session, business, saved_reply_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Not /saved-replies/text: GET /saved-replies/{id} shapes would take that path for an id.
@router.post("/saved-reply-texts", response_model=SavedReplyTextOut)
def saved_reply_text(
    body: SavedReplyTextIn, session: SessionDep, business: BusinessDep
) -> SavedReplyTextOut:
    """A saved reply filled in for a conversation's client, ready to send (nothing is sent).
    A variable the client's profile lacks is refused (400), naming it."""
    reply = service.get_reply(session, business, body.saved_reply_id)
    conversation = conversations.get_conversation(session, business.id, body.conversation_id)
    return SavedReplyTextOut(body=service.text_for(session, business, reply, conversation))


def _out(reply: SavedReply) -> SavedReplyOut:
    return SavedReplyOut(
        id=reply.id,
        name=reply.name,
        body=reply.body,
        created_at=reply.created_at,
        updated_at=reply.updated_at,
    )
