"""A NUL character anywhere a route reads text is a 400 naming the field, and changes nothing
(PostgreSQL cannot store one: it answered 500 there). Webhooks are never refused for it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.http import body_limits, input_checks
from messagecenter.http.input_checks import nul_field_in_body, nul_field_in_query
from messagecenter.models import ApiKey, Client, StaffMember
from tests.factories import SetUp, make_business, make_client

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    make_client(session, created.business, clock.now())
    session.commit()
    return created


@pytest.fixture
def web(context: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(context=context, run_dispatcher=False), "https://testserver") as c:
        yield c


def _owner_email(session: Session, setup: SetUp) -> str:
    return session.scalars(
        select(StaffMember.email).where(StaffMember.business_id == setup.business.id)
    ).one()


def _csrf(web: TestClient, path: str) -> str:
    found = CSRF.search(web.get(path).text)
    assert found
    return found.group(1)


def _signed_in(web: TestClient, session: Session, setup: SetUp) -> TestClient:
    login = {
        "email": _owner_email(session, setup),
        "password": setup.owner_password,
        "csrf": _csrf(web, "/login"),
    }
    assert web.post("/login", data=login, follow_redirects=False).status_code == 303
    return web


def _assert_api_refusal(reply: object, field: str) -> None:
    assert reply.status_code == 400, reply.text  # type: ignore[attr-defined]
    error = reply.json()["error"]  # type: ignore[attr-defined]
    assert (error["code"], error["field"]) == ("invalid_input", field)
    assert "NUL" in error["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/clients?search=a%00b", "search"),
        ("/api/v1/conversations?search=%00", "search"),
        ("/api/v1/conversations?limit=5&folder=unread%00", "folder"),
        ("/api/v1/clients?x%00=1", "x\\0"),
    ],
)
def test_a_nul_in_the_query_is_a_400_naming_the_parameter(
    api: TestClient, setup: SetUp, path: str, field: str
) -> None:
    _assert_api_refusal(api.get(path, headers=setup.auth), field)


def test_a_nul_in_a_json_body_is_a_400_naming_the_field_and_nothing_is_stored(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    before = session.scalar(select(func.count()).select_from(Client))
    reply = api.post(
        "/api/v1/clients",
        content=json.dumps({"first_name": "Ana\u0000", "cell_phone": "+12125550150"}),
        headers={**setup.auth, "Content-Type": "application/json"},
    )
    _assert_api_refusal(reply, "first_name")
    assert session.scalar(select(func.count()).select_from(Client)) == before


def test_the_json_check_names_nested_fields_and_ignores_an_escaped_backslash() -> None:
    nested = json.dumps({"items": [{"body": "ok"}, {"body": "a\u0000"}]}).encode()
    assert nul_field_in_body("application/json", nested) == "items.1.body"
    assert nul_field_in_body("application/json", rb'{"body": "\\u0000"}') is None
    assert nul_field_in_body("application/json", b"not json \\u0000") is None
    assert nul_field_in_query(b"q=%2500") is None  # an encoded "%00" is just text


def test_a_nul_in_the_sign_in_email_is_a_400_page(web: TestClient) -> None:
    reply = web.post(
        "/login",
        data={"email": "a\u0000@example.com", "password": "x", "csrf": _csrf(web, "/login")},
    )
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert "email: must not contain a NUL" in reply.text


@pytest.mark.parametrize(
    "path",
    [
        "/inbox?q=a%00b",
        "/clients?q=%00",
        "/history?status=%00",
        "/history.csv?status=%00",
        "/history.csv?q=x%00",
    ],
)
def test_a_nul_in_a_page_query_is_a_400_page(
    web: TestClient, session: Session, setup: SetUp, path: str
) -> None:
    reply = _signed_in(web, session, setup).get(path, headers={"Accept": "text/html"})
    assert reply.status_code == 400
    assert "must not contain a NUL" in reply.text


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/staff", {"name": "Ann\u0000", "email": "ann@example.com", "role": "staff"}),
        ("/settings/api-keys", {"name": "key\u0000"}),
        ("/settings/automated-messages/help", {"body": "Call us\u0000"}),
        ("/clients", {"first_name": "Ana", "last_name": "\u0000", "cell_phone": ""}),
    ],
)
def test_a_nul_in_a_form_field_is_a_400_and_changes_nothing(
    web: TestClient, session: Session, setup: SetUp, path: str, form: dict[str, str]
) -> None:
    signed = _signed_in(web, session, setup)
    counts = [
        session.scalar(select(func.count()).select_from(table))
        for table in (StaffMember, ApiKey, Client)
    ]
    page = "/settings" if path.startswith("/settings") else "/clients/new"
    reply = signed.post(path, data={**form, "csrf": _csrf(signed, page)})
    assert reply.status_code == 400
    assert "must not contain a NUL" in reply.text
    session.expire_all()
    assert [
        session.scalar(select(func.count()).select_from(table))
        for table in (StaffMember, ApiKey, Client)
    ] == counts


DEEP_NUL = b"[" * 5000 + b'"\\u0000"' + b"]" * 5000


def test_the_json_check_walks_a_deeply_nested_document_without_recursion() -> None:
    # Parsed, a list nested 900 deep (under the parser's limit) still holds the NUL: the
    # walk finds it where a recursive one would have hit the interpreter's stack limit.
    nested = b"[" * 900 + b'"\\u0000"' + b"]" * 900
    assert nul_field_in_body("application/json", nested) == ".".join(["0"] * 900)
    # Too deep for the parser: left to the route, which answers its own 400.
    assert nul_field_in_body("application/json", DEEP_NUL) is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/clients", 400),  # the body is parsed (and refused) before the key is asked
        ("/login", 403),  # a form route: no form CSRF token in a JSON body
    ],
)
def test_json_nested_too_deep_is_a_4xx_not_a_500_without_sign_in(
    api: TestClient, path: str, status: int
) -> None:
    reply = api.post(path, content=DEEP_NUL, headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/login", "/login"),
        ("/clients", "/clients/new"),
        ("/settings/automated-messages/help", "/settings/automated-messages"),
    ],
)
def test_a_multipart_form_is_a_415_and_changes_nothing(
    web: TestClient, session: Session, setup: SetUp, path: str, page: str
) -> None:
    # Form() would parse multipart too, past the NUL check; no route takes an upload.
    signed = _signed_in(web, session, setup) if path != "/login" else web
    form = {
        "csrf": _csrf(signed, page),
        "email": "a\u0000@example.com",
        "password": "x",
        "first_name": "Ana\u0000",
        "last_name": "",
        "cell_phone": "",
        "body": "Call us\u0000",
    }
    before = session.scalar(select(func.count()).select_from(Client))
    reply = signed.post(path, data=form, files={"unused": ("a.txt", b"x")})
    assert reply.status_code == 415, reply.text
    assert "url-encoded" in reply.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Client)) == before


def test_a_multipart_api_body_is_a_415(api: TestClient, setup: SetUp) -> None:
    reply = api.post("/api/v1/clients", headers=setup.auth, files={"first_name": (None, "A")})
    assert reply.status_code == 415
    assert reply.json()["error"]["code"] == "unsupported_media_type"


def test_every_body_within_the_limit_is_checked_whole(api: TestClient, setup: SetUp) -> None:
    # BodyLimits (outside RefuseNul) refuses anything larger, so nothing passes unchecked.
    assert input_checks.MAX_CHECKED_BODY >= body_limits.BODY_LIMIT
    document = json.dumps({"notes": "n" * (body_limits.BODY_LIMIT - 100), "last_name": "\u0000"})
    assert len(document) <= body_limits.BODY_LIMIT
    encoded = document.encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: read here as it comes
        for start in range(0, len(encoded), 64 * 1024):
            yield encoded[start : start + 64 * 1024]

    reply = api.post(
        "/api/v1/clients",
        content=chunks(),
        headers={**setup.auth, "Content-Type": "application/json"},
    )
    _assert_api_refusal(reply, "last_name")
