"""The live event stream (server-sent events) for one business."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from messagecenter.api.deps import ContextDep
from messagecenter.api.keys import authenticate
from messagecenter.conversations import queries as conversation_queries
from messagecenter.db import session_scope
from messagecenter.errors import NotAuthenticated
from messagecenter.events import EventBus, LiveEvent
from messagecenter.models import StaffMember
from messagecenter.web.auth import SESSION_STAFF

router = APIRouter(tags=["live"])
staff_router = APIRouter(include_in_schema=False)  # the web app's stream, by session cookie
_bearer = HTTPBearer(auto_error=False)
HEARTBEAT_SECONDS = 15.0


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
    `unread.changed`, `consent.changed`, `usage.warning`. Starts with the current unread count."""

    def _authenticate() -> tuple[int, int]:
        # A short unit of work of its own: the stream must not hold a database session.
        with session_scope(context.sessions) as session:
            key = authenticate(session, credentials.credentials if credentials else None)
            return key.business_id, conversation_queries.business_unread(session, key.business_id)

    business_id, unread = await run_in_threadpool(_authenticate)
    return _event_response(request, context.bus, business_id, unread)


@staff_router.get("/app/events")
async def stream_events_for_staff(request: Request, context: ContextDep) -> StreamingResponse:
    """The same stream for the web app, authenticated by the staff member's session."""
    staff_id = request.session.get(SESSION_STAFF)

    def _business_of_staff() -> tuple[int, int] | None:
        with context.sessions() as session:
            staff = session.get(StaffMember, staff_id) if isinstance(staff_id, int) else None
            if staff is None or not staff.active:
                return None
            unread = conversation_queries.business_unread(session, staff.business_id)
            return staff.business_id, unread

    found = await run_in_threadpool(_business_of_staff)
    if found is None:
        raise NotAuthenticated("Sign in first.")
    business_id, unread = found
    return _event_response(request, context.bus, business_id, unread)


def _event_response(
    request: Request, bus: EventBus, business_id: int, unread: int
) -> StreamingResponse:
    """The business's stream, starting with its current unread count."""
    first = LiveEvent(business_id, "unread.changed", {"unread": unread})
    return StreamingResponse(
        event_stream(request, bus, business_id, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def event_stream(
    request: Request, bus: EventBus, business_id: int, first: LiveEvent | None = None
) -> AsyncIterator[str]:
    async with bus.subscribe(business_id) as queue:
        yield "retry: 3000\n\n"
        if first is not None:
            yield format_event(first)
        while not await request.is_disconnected():
            try:
                live_event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield format_event(live_event)


def format_event(live_event: LiveEvent) -> str:
    return f"event: {live_event.type}\ndata: {json.dumps(live_event.data, default=str)}\n\n"
