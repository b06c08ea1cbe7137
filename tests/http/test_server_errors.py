"""An unexpected exception answers 500 in the app's error shape and keeps the connection."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from messagecenter.app import create_app
from messagecenter.context import AppContext
from tests.live_server import serve


def _app_with_a_broken_route(context: AppContext) -> FastAPI:
    app = create_app(context=context, run_dispatcher=False)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    return app


@pytest.mark.server_error_expected
def test_a_500_leaves_the_keep_alive_connection_usable(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(_app_with_a_broken_route(context)) as base_url:
        address = urlsplit(base_url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            connection.request("GET", "/api/v1/broken")
            failed = connection.getresponse()
            body = failed.read()
            first_socket = connection.sock
            assert failed.status == 500
            assert b'"code":"internal_error"' in body
            # Before: uvicorn saw the exception Starlette raises again and closed the
            # connection, so this request on the same socket was reset.
            connection.request("GET", "/healthz")
            healthy = connection.getresponse()
            healthy.read()
            assert healthy.status == 200
            assert connection.sock is first_socket
        finally:
            connection.close()
    assert any("unhandled error on GET /api/v1/broken" in r.message for r in caplog.records)
