"""A lean app in front of the full one, for requests that need none of its machinery.

Twilio's webhooks are the busiest requests the app serves, and they need no session cookie,
no CSRF or NUL check (a client's text is never refused: the intake replaces a NUL), no
templates, no dependency injection and no matching against every page's route. Passed through
the full FastAPI app, SessionMiddleware alone took about a fifth of a webhook's CPU time, and
FastAPI's own layers and ours about as much again. The requests named by (method, path) go
to a lean app before any of that; everything else, and those paths with any other method (so
a GET still answers the full app's 405), goes on to the full app as before.

Several lean apps may stand in front, each for its own routes (Twilio's inbound texts and
its status callbacks each go to a bare ASGI endpoint). Each is given the edge
middlewares every response needs (app.py: request log and id,
security headers, body limits, complete 500s), so webhooks keep those and skip only the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class LeanFrontApp(FastAPI):
    """FastAPI, with the routes given to `put_in_front` answered by lean apps instead."""

    _lean_routes: dict[tuple[str, str], ASGIApp] | None = None

    def put_in_front(self, lean: ASGIApp, routes: Iterable[tuple[str, str]]) -> None:
        """`lean` answers these (method, path) requests; lifespan and the rest stay ours.
        Called again, it adds another lean app for other routes (a route given twice goes to
        the later app)."""
        self._lean_routes = {**(self._lean_routes or {}), **dict.fromkeys(routes, lean)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._lean_routes is not None and scope["type"] == "http":
            lean = self._lean_routes.get((scope["method"], scope["path"]))
            if lean is not None:
                await lean(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
