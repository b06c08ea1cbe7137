"""JSON API: conversations, messages, sending."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from messagecenter.clients import queries as client_queries
from messagecenter.clients import service as clients
from messagecenter.consent import queries as consent_queries
from messagecenter.context import AppContext
from messagecenter.conversations import assignment, present, queries, service
from messagecenter.conversations.assignment import ChangedBy
from messagecenter.conversations.schemas import (
    BatchIn,
    BatchItemOut,
    BatchOut,
    ConversationOut,
    ConversationPage,
    ConversationPatch,
    ItemError,
    MessageIn,
    MessageOut,
    MessagePage,
    ReplyIn,
    SentOut,
)
from messagecenter.conversations.search import read_query
from messagecenter.errors import DomainError, InvalidInput, NotFound
from messagecenter.http.deps import ApiKeyDep, BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import DateTimeQuery, IdPath, OffsetQuery, OptionalIdQuery
from messagecenter.idempotency import service as idempotency
from messagecenter.models import Business, Conversation, Message
from messagecenter.models.ids import MAX_ID
from messagecenter.notifications.replies import replies_to
from messagecenter.numbers.countries import number_country
from messagecenter.saved_replies import service as saved_replies
from messagecenter.sending.compose import Outgoing, Sender, send_message, send_messages

router = APIRouter(tags=["conversations"])

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a send safe to retry: same key and request within 24 h, one message",
    ),
]


def _conversation_out(
    session: Session, business: Business, conversation: Conversation
) -> ConversationOut:
    client = (
        clients.get_client(session, business.id, conversation.client_id)
        if conversation.client_id
        else None
    )
    consent = consent_queries.consent_for(session, business.id, conversation.phone)
    return present.conversation_out(
        business, conversation, client, consent, present.assignee_name(session, conversation)
    )


@router.get("/conversations", response_model=ConversationPage)
def list_conversations(
    session: SessionDep,
    business: BusinessDep,
    folder: Literal["unread", "read", "replied", "archived", "blocked"] | None = None,
    client_id: OptionalIdQuery = None,
    assignee_id: OptionalIdQuery = None,
    unassigned: Annotated[
        bool, Query(description="only the conversations nobody is assigned")
    ] = False,
    search: Annotated[
        str | None,
        Query(
            max_length=100,
            description="any message's text, the client's name, or the phone in any usual "
            "form or its last digits; a conversation whose message matched carries it in "
            "`search_match`",
        ),
    ] = None,
    since: DateTimeQuery = None,
    until: DateTimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> ConversationPage:
    wanted = read_query(search or "", number_country(business.country))
    flt = queries.ConversationFilter(
        folder, client_id, wanted, since, until, limit, offset, assignee_id, unassigned
    )
    rows, total = queries.list_conversations(session, business.id, flt)
    items = present.conversations_out(session, business, rows, wanted)
    return ConversationPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    conversation_id: IdPath, session: SessionDep, business: BusinessDep
) -> ConversationOut:
    conversation = service.get_conversation(session, business.id, conversation_id)
    return _conversation_out(session, business, conversation)


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
def update_conversation(
    conversation_id: IdPath,
    body: ConversationPatch,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
) -> ConversationOut:
    """Pin, mute, archive, link a client, or assign: `assignee_id` an active staff member of
    the business (400 otherwise, nothing changed), null to leave it unassigned."""
    session = work.session
    if body.blocked is True:
        service.block(session, business.id, conversation_id, context.clock.now())
    elif body.blocked is False:
        service.unblock(session, business.id, conversation_id)
    if "assignee_id" in body.model_fields_set:
        assignment.assign(
            session,
            business.id,
            conversation_id,
            body.assignee_id,
            by=ChangedBy(api_key_id=key.id),
            at=context.clock.now(),
        )
    conversation = service.update_flags(
        session,
        business.id,
        conversation_id,
        pinned=body.pinned,
        muted=body.muted,
        archived=body.archived,
    )
    if body.client_id is not None:
        client = clients.get_client(session, business.id, body.client_id)
        service.link_client(session, business.id, conversation_id, client)
    return _conversation_out(session, business, conversation)


@router.post("/conversations/{conversation_id}/read", response_model=ConversationOut)
def mark_read(
    conversation_id: IdPath, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> ConversationOut:
    conversation = service.mark_read(
        work.session, business.id, conversation_id, context.clock.now()
    )
    return _conversation_out(work.session, business, conversation)


@router.post("/conversations/{conversation_id}/unread", response_model=ConversationOut)
def mark_unread(
    conversation_id: IdPath, work: UnitOfWorkDep, business: BusinessDep
) -> ConversationOut:
    conversation = service.mark_unread(work.session, business.id, conversation_id)
    return _conversation_out(work.session, business, conversation)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
def list_messages(
    conversation_id: IdPath,
    session: SessionDep,
    business: BusinessDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Cursor: only messages older than this message id (a page's `before`).",
        ),
    ] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="The former name of `before`.")
    ] = None,
) -> MessagePage:
    """The thread's newest `limit` messages, oldest first; follow `next` (or pass the page's
    `before` back) for the older ones, until `next` is null. `before` wins over `before_id`."""
    service.get_conversation(session, business.id, conversation_id)
    cursor = before if before is not None else before_id
    messages, older = queries.thread_page(
        session, business.id, conversation_id, limit=limit, before_id=cursor
    )
    answers = replies_to(session, business, messages)
    oldest = messages[0].id if messages and older else None
    return MessagePage(
        items=present.messages_out(session, messages, answers),
        before=oldest,
        next=None
        if oldest is None
        else f"/api/v1/conversations/{conversation_id}/messages?limit={limit}&before={oldest}",
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=SentOut,
    status_code=status.HTTP_201_CREATED,
)
def reply(
    conversation_id: IdPath,
    body: ReplyIn,
    request: Request,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
    idempotency_key: IdempotencyHeader = None,
) -> SentOut | JSONResponse:
    """Reply in a conversation. With `last_seen_message_id` (the newest message the sender
    saw), a conversation someone wrote in since is not answered blindly: 409
    `conversation_changed`, nothing sent, with `newer_messages` in the error; of two replies
    racing from the same message, one is sent and the other refused."""
    session = work.session
    replay = _replay(session, business, request, body.model_dump_json(), idempotency_key, context)
    if replay is not None:
        return replay
    conversation = service.get_conversation(session, business.id, conversation_id)
    if body.last_seen_message_id is not None:
        _ensure_seen_through(session, conversation, body.last_seen_message_id)
    text = body.body
    if body.saved_reply_id is not None:
        if text.strip():
            raise InvalidInput("Give a body or a saved_reply_id, not both.", field="body")
        reply = saved_replies.get_reply(session, business, body.saved_reply_id)
        text = saved_replies.text_for(session, business, reply, conversation)
    message = send_message(
        session,
        business,
        body=text,
        media_urls=[str(u) for u in body.media_urls],
        sender=Sender.api_key(key.id),
        conversation=conversation,
        at=context.clock.now(),
    )
    return _sent(session, business, message, idempotency_key)


def _ensure_seen_through(session: Session, conversation: Conversation, message_id: int) -> None:
    """A stale send's 409 carries the newer messages, as GET .../messages shows them."""
    try:
        service.ensure_seen_through(session, conversation, message_id)
    except service.ConversationChanged as changed:
        shown = present.messages_out(session, changed.newer)
        changed.details = {"newer_messages": [m.model_dump(mode="json") for m in shown]}
        raise


@router.post("/messages", response_model=SentOut, status_code=status.HTTP_201_CREATED)
def send(
    body: MessageIn,
    request: Request,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
    idempotency_key: IdempotencyHeader = None,
) -> SentOut | JSONResponse:
    """Send a text to a client (by profile) or into a conversation. With an
    `Idempotency-Key`, a retry of the same request within 24 hours sends nothing and answers
    as the first time did."""
    session = work.session
    replay = _replay(session, business, request, body.model_dump_json(), idempotency_key, context)
    if replay is not None:
        return replay
    if (body.client_id is None) == (body.conversation_id is None):
        raise InvalidInput("Give exactly one of client_id or conversation_id.", field="client_id")
    client = clients.get_client(session, business.id, body.client_id) if body.client_id else None
    conversation = (
        service.get_conversation(session, business.id, body.conversation_id)
        if body.conversation_id
        else None
    )
    message = send_message(
        session,
        business,
        body=body.body,
        media_urls=[str(u) for u in body.media_urls],
        sender=Sender.api_key(key.id),
        client=client,
        conversation=conversation,
        at=context.clock.now(),
    )
    return _sent(session, business, message, idempotency_key)


# Not /messages/batch: GET /messages/{message_id} would take that path for a message id.
@router.post(
    "/message-batches",
    response_model=BatchOut,
    summary="Send many messages at once",
    response_description="One result per item, in order: queued (with its message) or "
    "refused (with the error a single send would have answered)",
)
def send_batch(
    body: BatchIn,
    request: Request,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
    idempotency_key: IdempotencyHeader = None,
) -> BatchOut | JSONResponse:
    """Queue up to 1,000 messages (each as `POST /messages` takes it, plus an
    optional notification `category`) in one request and one transaction.

    Answered 200 with a result per item, in the request's order. Each item is held to every
    rule of a single send on its own: one that is refused (empty or too long, no cell phone,
    unsubscribed, category switched off, not exactly one of `client_id` and `conversation_id`)
    is answered with its error code, message and field and sends nothing, and the others still
    go. Under a hard-stop plan the items are taken in order, each while it fits in what remains
    of the allowance (as if sent one by one); one that does not fit is refused with
    `allowance_exhausted`.

    The whole request is refused, and nothing sent, when it is malformed (400, naming the
    field, e.g. `messages.3.body`), holds more than 1,000 items (400) or more than
    1 MiB (413), or names a client or conversation this business does not have (404, naming
    the item). With an `Idempotency-Key`, a retry of the same request within 24 hours sends
    nothing and answers as the first time did.
    """
    session = work.session
    replay = _replay(session, business, request, body.model_dump_json(), idempotency_key, context)
    if replay is not None:
        return replay
    items = body.messages
    found_clients = client_queries.contacts_by_id(
        session, business.id, (m.client_id for m in items if m.client_id is not None)
    )
    found_conversations = queries.conversations_by_id(
        session, business.id, (m.conversation_id for m in items if m.conversation_id is not None)
    )
    refused: dict[int, DomainError] = {}
    outgoing: list[tuple[int, Outgoing]] = []
    for index, item in enumerate(items):
        if item.client_id is not None and item.client_id not in found_clients:
            raise NotFound(
                f"messages.{index}.client_id: no such client; nothing was sent.",
                field=f"messages.{index}.client_id",
            )
        if item.conversation_id is not None and item.conversation_id not in found_conversations:
            raise NotFound(
                f"messages.{index}.conversation_id: no such conversation; nothing was sent.",
                field=f"messages.{index}.conversation_id",
            )
        if (item.client_id is None) == (item.conversation_id is None):
            refused[index] = InvalidInput(
                "Give exactly one of client_id or conversation_id.", field="client_id"
            )
            continue
        outgoing.append(
            (
                index,
                Outgoing(
                    item.body,
                    client=found_clients.get(item.client_id or 0),
                    conversation=found_conversations.get(item.conversation_id or 0),
                    media_urls=tuple(str(u) for u in item.media_urls),
                    category=item.category,
                ),
            )
        )
    results = send_messages(
        session,
        business,
        [each for _, each in outgoing],
        sender=Sender.api_key(key.id),
        at=context.clock.now(),
    )
    outcomes: dict[int, Message | DomainError] = dict(refused)
    outcomes.update({index: result for (index, _), result in zip(outgoing, results, strict=True)})
    out = _batch_out(session, business, [outcomes[i] for i in range(len(items))])
    if idempotency_key is not None:
        idempotency.store_response(
            session, business.id, idempotency_key, 200, out.model_dump(mode="json")
        )
    return out


@router.get("/messages/{message_id}", response_model=MessageOut)
def get_message(message_id: IdPath, session: SessionDep, business: BusinessDep) -> MessageOut:
    message = queries.get_message(session, business.id, message_id)
    if message is None:
        raise NotFound("No such message.")
    answers = replies_to(session, business, [message])
    return present.messages_out(session, [message], answers)[0]


def _replay(
    session: Session,
    business: Business,
    request: Request,
    canonical_body: str,
    key: str | None,
    context: AppContext,
) -> JSONResponse | None:
    """The stored answer when this Idempotency-Key already served this request."""
    if key is None:
        return None
    fingerprint = idempotency.request_fingerprint(request.method, request.url.path, canonical_body)
    stored = idempotency.claim_key(session, business.id, key, fingerprint, context.clock.now())
    if stored is None:
        return None
    return JSONResponse(
        stored.response_body, stored.response_status, headers={"Idempotent-Replayed": "true"}
    )


def _sent(
    session: Session,
    business: Business,
    message: Message,
    idempotency_key: str | None,
) -> SentOut:
    """The answer to a send; its message, usage and idempotency record commit together at
    the edge (UnitOfWorkDep), which then wakes the worker to dispatch it."""
    warning = present.foreign_number_warning(business, message.to_phone)
    out = SentOut(
        message=present.messages_out(session, [message])[0],
        warnings=[warning] if warning else [],
    )
    if idempotency_key is not None:
        idempotency.store_response(
            session, business.id, idempotency_key, 201, out.model_dump(mode="json")
        )
    return out


def _batch_out(
    session: Session, business: Business, outcomes: list[Message | DomainError]
) -> BatchOut:
    """The batch's answer: each queued message presented (sender names in one query for them
    all), each refusal as the error a single send would have answered."""
    queued = [m for m in outcomes if isinstance(m, Message)]
    presented = iter(present.messages_out(session, queued))
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Message):
            warning = present.foreign_number_warning(business, outcome.to_phone)
            results.append(
                BatchItemOut(
                    index=index,
                    status="queued",
                    message=next(presented),
                    warnings=[warning] if warning else [],
                )
            )
        else:
            error = ItemError(code=outcome.code, message=outcome.message, field=outcome.field)
            results.append(BatchItemOut(index=index, status="refused", error=error))
    return BatchOut(queued=len(queued), refused=len(outcomes) - len(queued), results=results)
