"""LeanFrontApp: requests to the paths put in front go to the lean app, whatever their method,
before any of the full app's middleware; everything else, lifespan included, stays with the
full app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from messagecenter.http.lean_front import LeanFrontApp


class Recorder:
    """A full-app middleware that notes every request path it sees."""

    seen: list[str]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Recorder.seen.append(scope["path"])
        await self.app(scope, receive, send)


async def lean(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("lean")(scope, receive, send)


def fronted_app(started: list[bool]) -> LeanFrontApp:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = LeanFrontApp(lifespan=lifespan)
    app.add_middleware(Recorder)

    @app.get("/hook")
    def hook_get() -> PlainTextResponse:
        return PlainTextResponse("full")

    @app.post("/other")
    def other() -> PlainTextResponse:
        return PlainTextResponse("full")

    app.put_in_front(lean, ["/hook"])
    return app


def test_the_routes_in_front_reach_the_lean_app_and_no_full_app_middleware() -> None:
    Recorder.seen = []
    started: list[bool] = []
    with TestClient(fronted_app(started)) as client:
        posted = client.post("/hook")
        got = client.get("/hook")  # the full app has a GET route here, but the path is lean

        assert (posted.status_code, posted.text) == (200, "lean")
        assert (got.status_code, got.text) == (200, "lean")
        assert Recorder.seen == []
        assert started == [True]  # the lifespan is still the full app's


def test_other_paths_reach_the_full_app() -> None:
    Recorder.seen = []
    with TestClient(fronted_app([])) as client:
        other_path = client.post("/other")
        below = client.post("/hook/below")  # a path is put in front whole, not as a prefix

    assert (other_path.status_code, other_path.text) == (200, "full")
    assert below.status_code == 404
    assert Recorder.seen == ["/other", "/hook/below"]


def test_without_anything_in_front_it_is_the_full_app() -> None:
    Recorder.seen = []
    app = LeanFrontApp()
    app.add_middleware(Recorder)
    with TestClient(app) as client:
        assert client.post("/hook").status_code == 404
    assert Recorder.seen == ["/hook"]
