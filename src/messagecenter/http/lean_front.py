"""A lean app in front of the full one, for requests that need none of its machinery.

Twilio's webhooks are the busiest requests the app serves, and they need no session cookie,
no CSRF or NUL check (a client's text is never refused: the intake replaces a NUL), no
templates, no dependency injection and no matching against every page's route. Passed through
the full FastAPI app, SessionMiddleware alone took about a fifth of a webhook's CPU time, and
FastAPI's own layers and ours about as much again. Requests to the paths put in front go to
a lean app before any of that, whatever their method (the lean app answers a method it does
not take); every other path goes on to the full app as before.

Several lean apps may stand in front, each for its own paths (Twilio's inbound texts and its
status callbacks each go to a bare ASGI endpoint). Each is given the edge middlewares every
response needs (app.py: request log and id, security headers, body limits, complete 500s), so
webhooks keep those and skip only the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class LeanFrontApp(FastAPI):
    """FastAPI, with the paths given to `put_in_front` answered by lean apps instead."""

    _lean_paths: dict[str, ASGIApp] | None = None

    def put_in_front(self, lean: ASGIApp, paths: Iterable[str]) -> None:
        """`lean` answers every request to these paths; lifespan and the rest stay ours.
        Called again, it adds another lean app for other paths (a path given twice goes to
        the later app)."""
        self._lean_paths = {**(self._lean_paths or {}), **dict.fromkeys(paths, lean)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._lean_paths is not None and scope["type"] == "http":
            lean = self._lean_paths.get(scope["path"])
            if lean is not None:
                await lean(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
