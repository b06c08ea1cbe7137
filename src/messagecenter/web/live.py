"""The live event stream (server-sent events) for one business."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from messagecenter.apikeys import queries as apikey_queries
from messagecenter.apikeys.service import authenticate
from messagecenter.clock import Clock
from messagecenter.context import AppContext
from messagecenter.conversations import queries as conversation_queries
from messagecenter.db import session_scope
from messagecenter.errors import NotAuthenticated
from messagecenter.events import ACCESS_ENDED, EventBus, LiveEvent
from messagecenter.http.deps import ContextDep
from messagecenter.signin import queries as signin_queries
from messagecenter.web.auth import session_staff

router = APIRouter(tags=["live"])
staff_router = APIRouter(include_in_schema=False)  # the web app's stream, by session cookie
_bearer = HTTPBearer(auto_error=False)
HEARTBEAT_SECONDS = 15.0
# Events for the staff's own pages only (web/presence.py): an API key's stream skips them.
STAFF_ONLY = frozenset({"presence"})
# Access is looked at again this many heartbeats apart (a minute): an access.ended sent while
# this process's PostgreSQL listener was reconnecting never arrives.
RECHECK_EVERY = 4


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Live events"}},
)
async def stream_events(
    request: Request,
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StreamingResponse:
    """Server-sent events for the key's business: `message.created`, `message.status`,
    `unread.changed`, `consent.changed`, `usage.warning`, `note.created`, `note.mentioned`,
    `conversation.assigned`. Starts with the current unread count."""

    def _authenticate() -> tuple[StreamHolder, int]:
        # A short unit of work of its own: the stream must not hold a database session.
        with session_scope(context.sessions) as session:
            key = authenticate(session, credentials.credentials if credentials else None)
            unread = conversation_queries.business_unread(session, key.business_id)
            return StreamHolder(key.business_id, api_key_id=key.id), unread

    holder, unread = await run_in_threadpool(_authenticate)

    def _still_valid() -> bool:
        assert holder.api_key_id is not None
        with context.sessions() as session:
            return apikey_queries.key_is_active(session, holder.api_key_id)

    return _event_response(request, context, holder, unread, _still_valid)


@staff_router.get("/app/events")
async def stream_events_for_staff(request: Request, context: ContextDep) -> StreamingResponse:
    """The same stream for the web app, authenticated by the staff member's session."""

    def _holder() -> tuple[StreamHolder, int] | None:
        with context.sessions() as session:
            found = session_staff(session, request)
            if found is None:
                return None
            staff, web_session = found.member, found.web_session
            unread = conversation_queries.business_unread(session, staff.business_id)
            expires_at = signin_queries.web_session_expiry(session, web_session)
            holder = StreamHolder(
                staff.business_id,
                staff_id=staff.id,
                web_session=web_session,
                expires_at=expires_at,
            )
            return holder, unread

    def _still_valid() -> bool:
        with context.sessions() as session:
            return session_staff(session, request) is not None

    found = await run_in_threadpool(_holder)
    if found is None:
        raise NotAuthenticated("Sign in first.")
    holder, unread = found
    return _event_response(request, context, holder, unread, _still_valid)


@dataclass(frozen=True)
class StreamHolder:
    """Who opened a stream: an API key, or a staff member in one web session."""

    business_id: int
    api_key_id: int | None = None
    staff_id: int | None = None
    web_session: str | None = None
    expires_at: datetime | None = None  # a web session's end: the stream closes then

    def ended_by(self, live_event: LiveEvent) -> bool:
        """Whether this access-ended event names the key, staff member or session."""
        named = live_event.data
        return any(
            mine is not None and named.get(name) == mine
            for name, mine in (
                ("api_key_id", self.api_key_id),
                ("staff_id", self.staff_id),
                ("web_session", self.web_session),
            )
        )


def _event_response(
    request: Request,
    context: AppContext,
    holder: StreamHolder,
    unread: int,
    still_valid: Callable[[], bool],
) -> StreamingResponse:
    """The business's stream, starting with its current unread count; `still_valid` looks
    again at the holder's access (in the database) once the stream has subscribed."""
    first = LiveEvent(holder.business_id, "unread.changed", {"unread": unread})

    async def check_again() -> bool:
        return await run_in_threadpool(still_valid)

    return StreamingResponse(
        event_stream(request, context.bus, holder, first, check_again, clock=context.clock),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def event_stream(
    request: Request,
    bus: EventBus,
    holder: StreamHolder,
    first: LiveEvent | None = None,
    still_valid: Callable[[], Awaitable[bool]] | None = None,
    *,
    clock: Clock | None = None,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """The holder's business's events until the client goes or the holder's access ends (a
    revoked key, a deactivated staff member, a signed-out or expired session: then the
    stream closes)."""
    async with bus.subscribe(holder.business_id) as queue:
        # Access may have ended between the check that opened the stream and subscribing,
        # whose event this stream would never see: look again now that it would.
        if still_valid is not None and not await still_valid():
            return
        yield "retry: 3000\n\n"
        if first is not None:
            yield format_event(first)
        heartbeats = 0
        while not await request.is_disconnected():
            left = _until_expiry(holder, clock)
            if left is not None and left <= 0:
                return
            wait = heartbeat_seconds if left is None else min(left, heartbeat_seconds)
            try:
                live_event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if wait < heartbeat_seconds:
                    continue  # woken for the session's end, which the loop's check sees
                heartbeats += 1
                if heartbeats % RECHECK_EVERY == 0 and still_valid and not await still_valid():
                    return
                yield ": keep-alive\n\n"
                continue
            left = _until_expiry(holder, clock)
            if left is not None and left <= 0:
                return  # not one event after the session's end
            if live_event.type == ACCESS_ENDED:  # for the streams, never for their clients
                if holder.ended_by(live_event):
                    return
                continue
            if live_event.type in STAFF_ONLY and holder.staff_id is None:
                continue  # who is looking at what is the team's, not an integration's
            yield format_event(live_event)


def _until_expiry(holder: StreamHolder, clock: Clock | None) -> float | None:
    """Seconds until the holder's web session ends, by the app's clock; None if it does not."""
    if holder.expires_at is None or clock is None:
        return None
    return (holder.expires_at - clock.now()).total_seconds()


def format_event(live_event: LiveEvent) -> str:
    return f"event: {live_event.type}\ndata: {json.dumps(live_event.data, default=str)}\n\n"
