"""A lean app in front of the full one, for requests that need none of its machinery.

Twilio's webhooks are the busiest requests the app serves, and they need no session cookie,
no CSRF or NUL check (a client's text is never refused: the intake replaces a NUL), no
templates, no dependency injection and no matching against every page's route. Passed through
the full FastAPI app, SessionMiddleware alone took about a fifth of a webhook's CPU time, and
FastAPI's own layers and ours about as much again. The requests named by (method, path) go
to a lean app before any of that; everything else, and those paths with any other method (so
a GET still answers the full app's 405), goes on to the full app as before.

The lean app is given the edge middlewares every response needs (app.py: request log and id,
security headers, body limits, complete 500s), so webhooks keep those and skip only the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class LeanFrontApp(FastAPI):
    """FastAPI, with the routes given to `put_in_front` answered by a lean app instead."""

    _lean: ASGIApp | None = None
    _lean_routes: frozenset[tuple[str, str]] = frozenset()

    def put_in_front(self, lean: ASGIApp, routes: Iterable[tuple[str, str]]) -> None:
        """`lean` answers these (method, path) requests; lifespan and the rest stay ours."""
        self._lean = lean
        self._lean_routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._lean is not None
            and scope["type"] == "http"
            and (scope["method"], scope["path"]) in self._lean_routes
        ):
            await self._lean(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
