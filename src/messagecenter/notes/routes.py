"""JSON API: a conversation's internal notes, read and written. A note written with an API key
has no staff author (a key is not a person): it is signed "API key <the key's name>"."""

from __future__ import annotations

from fastapi import APIRouter, status

from messagecenter.conversations import service as conversations
from messagecenter.http.deps import ApiKeyDep, BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath
from messagecenter.models import Note, StaffMember
from messagecenter.notes import service
from messagecenter.notes.schemas import MentionOut, NoteIn, NoteList, NoteOut

router = APIRouter(tags=["notes"])


@router.get("/conversations/{conversation_id}/notes", response_model=NoteList)
def list_notes(conversation_id: IdPath, session: SessionDep, business: BusinessDep) -> NoteList:
    """Every internal note of the conversation, oldest first (messages are listed apart)."""
    conversation = conversations.get_conversation(session, business.id, conversation_id)
    found = service.notes_between(session, conversation)
    staff = service.staff_to_mention(session, business.id)
    return NoteList(items=[_out(n, staff) for n in found])


@router.post(
    "/conversations/{conversation_id}/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
)
def create_note(
    conversation_id: IdPath,
    body: NoteIn,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
) -> NoteOut:
    """Write an internal note (201): never sent, never counted, never unread. Staff it
    mentions are told live (a `note.mentioned` event). Refused (400): an empty note, or one
    over the limit."""
    conversation = conversations.get_conversation(work.session, business.id, conversation_id)
    note = service.add_note(work.session, conversation, body=body.body, at=context.clock.now(),
                            author=None, author_label=f"API key {key.name}")  # fmt: skip
    return _out(note, service.staff_to_mention(work.session, business.id))


def _out(note: Note, staff: list[StaffMember]) -> NoteOut:
    return NoteOut(
        id=note.id,
        conversation_id=note.conversation_id,
        author=note.author_label,
        author_staff_id=note.author_id,
        body=note.body,
        mentions=[
            MentionOut(staff_id=m.id, name=m.name) for m in service.mentioned(note.body, staff)
        ],
        created_at=note.created_at,
    )
