"""Internal notes: what staff leave for each other in a conversation's thread, with @mentions
that reach the staff member named (live, and on their pages until they open the conversation).
A note is never sent, never counted in the allowance and never unread: it only sits in the
thread, the history and the export."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.errors import InvalidInput
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Conversation, Note, StaffMember
from messagecenter.models.note import MAX_AUTHOR_LABEL, MAX_NOTE_CHARACTERS
from messagecenter.notes import queries

NOTE_CREATED = "note.created"  # for every page showing the conversation
NOTE_MENTIONED = "note.mentioned"  # for the staff member named (data["staff_id"])
PREVIEW_CHARACTERS = 80


@dataclass(frozen=True)
class Segment:
    """A piece of a note's text: plain, or an @mention of `staff` (shown highlighted)."""

    text: str
    staff: StaffMember | None = None


@dataclass(frozen=True)
class NoteView:
    """A note as the thread shows it: its text cut at its mentions."""

    id: int
    created_at: datetime
    author: str
    segments: list[Segment]

    @property
    def mentions(self) -> list[str]:
        return [s.staff.name for s in self.segments if s.staff is not None]


def add_note(
    session: Session,
    conversation: Conversation,
    *,
    body: str,
    at: datetime,
    author: StaffMember | None,
    author_label: str | None = None,
) -> Note:
    """Write a note in the conversation by `author` (None: through the API, named by
    `author_label`). Refused: an empty or too long text. Each staff member it mentions is
    told live once it commits, and finds it waiting on their pages until they open the
    conversation (not the author, who knows)."""
    body = body.strip()
    if not body:
        raise InvalidInput("Write the note's text.", field="body")
    if len(body) > MAX_NOTE_CHARACTERS:
        raise InvalidInput(
            f"The note is {len(body):,} characters; the limit is {MAX_NOTE_CHARACTERS:,}: "
            "shorten it or split it in two.",
            field="body",
        )
    label = author.name if author is not None else (author_label or "API")
    note = Note(
        business_id=conversation.business_id,
        conversation_id=conversation.id,
        author_id=author.id if author is not None else None,
        author_label=label[:MAX_AUTHOR_LABEL],
        body=body,
        created_at=at,
    )
    session.add(note)
    session.flush()
    about = {"conversation_id": conversation.id, "note_id": note.id}
    queue_event_on_commit(session, LiveEvent(conversation.business_id, NOTE_CREATED, about))
    staff = queries.active_staff(session, conversation.business_id)
    named_others = [
        named for named in mentioned(body, staff) if author is None or named.id != author.id
    ]
    queries.add_mentions(session, note, [named.id for named in named_others])
    for named in named_others:
        queue_event_on_commit(
            session,
            LiveEvent(
                conversation.business_id,
                NOTE_MENTIONED,
                about
                | {"staff_id": named.id, "author": note.author_label, "preview": _preview(body)},
            ),
        )
    return note


def notes_between(
    session: Session,
    conversation: Conversation,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> list[Note]:
    return queries.notes_between(session, conversation.id, since=since, before=before)


def views(session: Session, business_id: int, notes: list[Note]) -> list[NoteView]:
    staff = queries.active_staff(session, business_id) if notes else []
    return [NoteView(n.id, n.created_at, n.author_label, segments(n.body, staff)) for n in notes]


@dataclass(frozen=True)
class MentionView:
    """A mention waiting for its staff member: who wrote it, where, and its start."""

    conversation_id: int
    note_id: int
    author: str
    preview: str
    created_at: datetime


UNSEEN_MENTIONS_SHOWN = 5


def unseen_mentions(session: Session, business_id: int, staff_id: int) -> list[MentionView]:
    """The staff member's newest mentions not yet seen (they open the conversation)."""
    rows = queries.unseen_mentions(session, business_id, staff_id, limit=UNSEEN_MENTIONS_SHOWN)
    return [
        MentionView(m.conversation_id, n.id, n.author_label, _preview(n.body), m.created_at)
        for m, n in rows
    ]


def mentions_seen(session: Session, staff_id: int, conversation_id: int, at: datetime) -> None:
    """The staff member opened the conversation: its mentions of them stop waiting."""
    queries.mark_mentions_seen(session, staff_id, conversation_id, at)


def staff_to_mention(session: Session, business_id: int) -> list[StaffMember]:
    return queries.active_staff(session, business_id)


def segments(body: str, staff: list[StaffMember]) -> list[Segment]:
    """The note's text cut at its @mentions: "@" then a staff member's name or the part of
    their email before "@", in any case, not followed by a letter or digit. The longest
    name wins ("@Casey Jones" over "@Casey"); any other @word is just text."""
    names = _names(staff)
    found: list[Segment] = []
    plain_from = 0
    at = body.find("@")
    while at != -1:
        match = _match_at(body, at + 1, names)
        if match is None:
            at = body.find("@", at + 1)
            continue
        length, member = match
        if at > plain_from:
            found.append(Segment(body[plain_from:at]))
        found.append(Segment(body[at : at + 1 + length], member))
        plain_from = at + 1 + length
        at = body.find("@", plain_from)
    if plain_from < len(body):
        found.append(Segment(body[plain_from:]))
    return found


def mentioned(body: str, staff: list[StaffMember]) -> list[StaffMember]:
    """The staff members the note mentions, each once, in the order first mentioned."""
    seen: dict[int, StaffMember] = {}
    for segment in segments(body, staff):
        if segment.staff is not None:
            seen.setdefault(segment.staff.id, segment.staff)
    return list(seen.values())


_WORD = re.compile(r"\w")


def _names(staff: list[StaffMember]) -> list[tuple[str, StaffMember]]:
    """Each way of naming a staff member, lowercase, longest first (so it wins)."""
    names: list[tuple[str, StaffMember]] = []
    for member in staff:
        for name in {member.name.strip().lower(), member.email.split("@", 1)[0].lower()}:
            if name:
                names.append((name, member))
    return sorted(names, key=lambda pair: -len(pair[0]))


def _match_at(
    body: str, start: int, names: list[tuple[str, StaffMember]]
) -> tuple[int, StaffMember] | None:
    lowered = body[start:].lower()
    for name, member in names:
        if lowered.startswith(name):
            after = lowered[len(name) : len(name) + 1]
            if not after or not _WORD.match(after):
                return len(name), member
    return None


def _preview(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_CHARACTERS else flat[: PREVIEW_CHARACTERS - 1] + "…"
