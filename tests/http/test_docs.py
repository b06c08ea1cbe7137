"""/docs and /redoc work without a CDN: every file their viewers load is the app's own
(http/docs.py); and the app has a favicon."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_load_only_the_apps_own_files(api: TestClient, path: str) -> None:
    page = api.get(path)
    assert page.status_code == 200
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert loaded and all(url.startswith("/") and not url.startswith("//") for url in loaded)
    assert "cdn." not in page.text and "fonts.googleapis" not in page.text
    for url in loaded:
        asset = api.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0


def test_swagger_ui_is_a_version_that_reads_openapi_3_1(api: TestClient) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5."""
    assert api.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = api.get("/docs-assets/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', bundle), "not Swagger UI 5"


def test_the_oauth2_redirect_page_is_served(api: TestClient) -> None:
    assert api.get("/docs/oauth2-redirect").status_code == 200


def test_the_app_has_a_favicon(api: TestClient) -> None:
    icon = api.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.lstrip().startswith("<svg")
    login = api.get("/login").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    assert api.get("/static/favicon.svg").status_code == 200
