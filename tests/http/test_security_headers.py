"""Every response carries the security headers; pages run only the app's own static files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from messagecenter.http.security_headers import APP_POLICY, DOCS_POLICY

TEMPLATES = Path(__file__).parents[2] / "src" / "messagecenter" / "web" / "templates"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/login", 200),  # a page
        ("GET", "/inbox", 401),  # sign in first
        ("GET", "/healthz", 200),  # JSON
        ("GET", "/static/app.js", 200),  # a static file
        ("GET", "/api/v1/clients", 401),  # an API error
        ("GET", "/nowhere", 404),
        ("POST", "/webhooks/twilio/status", 403),  # an unsigned webhook
    ],
)
def test_every_response_carries_the_headers(
    api: TestClient, method: str, path: str, status: int
) -> None:
    answer = api.request(method, path, follow_redirects=False)
    assert answer.status_code == status
    assert answer.headers["content-security-policy"] == APP_POLICY
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_refused_large_body_carries_them_too(api: TestClient) -> None:
    answer = api.post("/api/v1/messages", content=b"x" * (2 * 2**20))
    assert answer.status_code == 413
    assert answer.headers["content-security-policy"] == APP_POLICY


def test_the_app_policy_allows_only_its_own_files_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in APP_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in APP_POLICY


def test_the_docs_page_loads_under_its_own_policy(api: TestClient) -> None:
    """/docs keeps working: every script and stylesheet it loads is one its policy allows."""
    page = api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == DOCS_POLICY
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [url for url in loaded if url.endswith((".js", ".css"))]
    assert assets and all(url.startswith("/docs-assets/") for url in assets)  # 'self'
    assert "https:" not in DOCS_POLICY and "http:" not in DOCS_POLICY  # no outside host


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_templates_hold_no_inline_script_style_or_handler(template: Path) -> None:
    """What the policy would block: an inline <script> or <style>, a style="" attribute, an
    on...="" handler, a javascript: URL."""
    html = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "javascript:" not in html.lower()
