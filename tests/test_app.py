"""The app as a whole: health, the OpenAPI document, the error shape everywhere."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from messagecenter.app import create_app
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context


def test_healthz_answers_when_the_database_does(api: TestClient) -> None:
    reply = api.get("/healthz")
    assert reply.status_code == 200
    assert reply.json()["database"] == "ok"


def test_healthz_reports_an_unreachable_database() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    engine = create_engine(settings.database_url, connect_args={"connect_timeout": 1})
    app = create_app(context=build_context(settings, engine=engine), run_dispatcher=False)
    with TestClient(app) as client:
        reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["database"] == "unreachable"


def test_openapi_document_lists_the_v1_api(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    paths = set(document["paths"])
    for path in (
        "/api/v1/clients",
        "/api/v1/clients/{client_id}",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/conversations/{conversation_id}/read",
        "/api/v1/conversations/{conversation_id}/unread",
        "/api/v1/messages",
        "/api/v1/unread",
        "/api/v1/usage",
        "/api/v1/events",
    ):
        assert path in paths, path
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()


def test_unknown_routes_and_bad_json_use_the_error_shape(api: TestClient) -> None:
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = api.post(
        "/api/v1/messages",
        content=b"{not json",
        headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
    )
    assert bad.status_code in (400, 401)
    assert set(bad.json()["error"]) >= {"code", "message"}


def test_a_server_process_freezes_what_startup_built_and_tests_do_not(
    context: AppContext,
) -> None:
    assert gc.get_freeze_count() == 0  # the `api` fixture's app does not freeze
    app = create_app(context=context, run_dispatcher=False, freeze_gc=True)
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            # Startup's objects are out of the collector's reach, so full collections no
            # longer scan them.
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
