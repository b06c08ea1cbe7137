"""The error handlers' backstops: a NUL that PostgreSQL refuses past the edge is a 400."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from messagecenter.app import create_app
from messagecenter.context import AppContext


class _DriverError(Exception):
    """Stands in for the driver's exception that SQLAlchemy wraps."""


def _app_raising(context: AppContext, reason: str) -> FastAPI:
    app = create_app(context=context, run_dispatcher=False)

    @app.post("/api/v1/raises")
    def raises() -> None:
        raise DataError("INSERT ...", {}, _DriverError(reason))

    return app


def test_postgresqls_nul_refusal_is_a_400_wherever_it_comes_from(context: AppContext) -> None:
    # psycopg's words for a NUL in a text parameter, as the backstop reads them.
    reason = "PostgreSQL text fields cannot contain NUL (0x00) bytes"
    with TestClient(_app_raising(context, reason)) as client:
        reply = client.post("/api/v1/raises")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "invalid_input"
    assert "NUL" in reply.json()["error"]["message"]


@pytest.mark.server_error_expected
def test_any_other_data_error_stays_a_logged_500(context: AppContext) -> None:
    with TestClient(_app_raising(context, "value too long"), raise_server_exceptions=False) as c:
        reply = c.post("/api/v1/raises")
    assert reply.status_code == 500
