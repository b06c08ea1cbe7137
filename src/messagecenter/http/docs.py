"""The API's documentation pages (/docs: Swagger UI, /redoc: ReDoc) with their viewers served
by the app itself, FastAPI's self-hosting recipe: no CDN, so they work offline, behind a
firewall, and under a policy that names no outside host. The viewers' files come from the
`fastapi-offline` package (a dependency), not copied into this repository."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"  # swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
VIEWERS = Path(fastapi_offline.__file__).parent / "static"
FAVICON = Path(__file__).parent.parent / "web" / "static" / "favicon.svg"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """/docs, /redoc and the favicon, on an app made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=str(VIEWERS)), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=str(app.openapi_url),
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            # No badge fetched from swagger.io's validator for every visit.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=str(app.openapi_url),
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url="/favicon.ico",
            with_google_fonts=False,
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Where browsers look on pages without a <link rel="icon"> (the JSON, the docs).
        return FileResponse(FAVICON, media_type="image/svg+xml")
