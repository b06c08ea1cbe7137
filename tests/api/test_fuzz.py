"""The JSON API fuzzed from its own OpenAPI document (schemathesis): no input gets a 5xx.

One test per operation of the document (`/api/v1/...` and `/healthz`). Each runs against a
database seeded with two businesses (clients, conversations in and out, an unsubscribed client,
a contact without a profile) and sends every request with the first business's API key. Most
generated ids are turned into seeded ones (see _point_at_seeded_rows), so requests reach
existing rows, including the other business's, besides missing ids, boundaries, huge values and
wrong types. Schemathesis runs its examples, coverage and fuzzing phases with valid and invalid
inputs, derandomized: CI sends the same requests every run (as long as this module is unchanged:
Hypothesis derives the seed from the test's source).

Checked on every response: no 5xx, a documented status code, the documented content type and
body schema. Not `negative_data_rejection`: pydantic's lax parsing accepts some inputs the
document calls invalid (`0` for a boolean, a number for a date-time), which is not a fault.

Left out: `/api/v1/events` (an endless SSE stream, covered by tests/test_events.py),
`/simulator/...` (the development carrier's own endpoint), the Twilio webhooks (signed form
posts, covered by tests/webhooks) and the staff web pages (sessions and CSRF, not the API).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext
from messagecenter.conversations.service import Sender, send_message
from messagecenter.models import Conversation, Message
from tests.factories import make_business, make_client, text_from

MAX_EXAMPLES = 15
SEND_EXAMPLES = 40

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _openapi_document() -> dict[str, Any]:
    """The document as the app serves it at /openapi.json. Building it touches no database
    (the engine connects lazily), so it can happen at import, where schemathesis needs it to
    make one test per operation; the fixture below checks it matches the app under test."""
    settings = Settings(
        database_url="sqlite:///fuzz-document-never-opened.db",
        carrier="simulator",
        secret_key="fuzz-document",
    )
    return create_app(settings, run_dispatcher=False).openapi()


DOCUMENT = _openapi_document()


def _not_fuzzed(ctx: Any) -> bool:
    """Fuzz the JSON API and the health check; not the event stream, the simulator, the
    webhooks or the staff web pages."""
    path: str = ctx.operation.path
    return path == "/api/v1/events" or not (path.startswith("/api/v1/") or path == "/healthz")


schema = (
    schemathesis.openapi.from_dict(
        DOCUMENT,
        config=schemathesis.Config.from_dict(
            {
                "generation": {
                    "max-examples": MAX_EXAMPLES,
                    # The same requests every run (Hypothesis' derandomize), none replayed from
                    # an example database.
                    "deterministic": True,
                    "database": "none",
                    # The key goes in every request (below); no generated credentials.
                    "with-security-parameters": False,
                },
                "operations": [
                    {
                        "include-name": [
                            "POST /api/v1/messages",
                            "POST /api/v1/conversations/{conversation_id}/messages",
                        ],
                        "generation": {"max-examples": SEND_EXAMPLES},
                    }
                ],
            }
        ),
    )
    # (An `include` here would be OR-ed with the include the `operations` entry adds.)
    .exclude(_not_fuzzed)
)


@dataclass
class Seeded:
    """The data the requests can reach, and the first business's key."""

    api_key: str
    ids: dict[str, list[int]]  # parameter name -> existing ids (both businesses)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


class _RecordingApp:
    """Wraps the ASGI app to keep the traceback of an unhandled exception (the test client
    turns it into a bare 500), so a failure shows where the server broke."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_traceback: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            self.last_traceback = traceback.format_exc()
            raise


@pytest.fixture
def seeded(session: Session, context: AppContext, clock: FrozenClock) -> Seeded:
    at = clock.now()
    ours = make_business(session, context.carrier, at, allowance=1_000_000)
    theirs = make_business(session, context.carrier, at, business_phone="+13125550100")
    maria = make_client(session, ours.business, at)
    no_phone = make_client(
        session, ours.business, at, first_name="Ana", last_name="Ruiz", cell_phone=None
    )
    stopped = make_client(
        session, ours.business, at, first_name="Joe", last_name="Bloggs", cell_phone="+12125550143"
    )
    other = make_client(session, theirs.business, at, cell_phone="+13125550142")
    text_from(session, ours.number, "+12125550142", "Can I move my 4pm?", at)
    text_from(session, ours.number, "+12125550143", "STOP", at)
    text_from(session, ours.number, "+12125550199", "Who is this?", at)  # no client profile
    text_from(session, theirs.number, "+13125550142", "Hello", at)
    send_message(
        session,
        ours.business,
        body="Yes, 5pm works",
        sender=Sender.automated(),
        client=maria,
        at=at,
    )
    session.commit()  # releases the savepoint: the app's sessions (same connection) see it
    conversations = list(
        session.scalars(select(Conversation.id).order_by(Conversation.business_id, Conversation.id))
    )
    messages = list(session.scalars(select(Message.id).order_by(Message.id)))
    clients = [maria.id, no_phone.id, stopped.id, other.id]
    return Seeded(
        ours.api_key,
        {
            "client_id": clients,
            "conversation_id": conversations,
            "message_id": messages,
            "before_id": messages,
        },
    )


@pytest.fixture
def fuzz_client(context: AppContext) -> Iterator[tuple[TestClient, _RecordingApp]]:
    app = create_app(context=context, run_dispatcher=False)
    assert app.openapi() == DOCUMENT, "the fuzzed document is not the app's"
    recording = _RecordingApp(app)
    with TestClient(recording, raise_server_exceptions=False) as client:
        yield client, recording


def _point_at_seeded_rows(case: schemathesis.Case, seeded: Seeded) -> None:
    """Turn most generated ids into seeded ones, so requests reach real rows: a value v in
    [1, 2**31) with v % 3 != 0 becomes the (v mod n)-th seeded id of its kind. The others stay
    as generated: 0, multiples of 3 (missing rows), negatives, huge values and wrong types."""
    containers = [case.path_parameters, case.query]
    if isinstance(case.body, dict):
        containers.append(case.body)
    for container in containers:
        if not container:
            continue
        for name, existing in seeded.ids.items():
            value = container.get(name)
            if type(value) is int and 0 < value < 2**31 and value % 3:
                container[name] = existing[value % len(existing)]


def _request_kwargs(case: schemathesis.Case, seeded: Seeded) -> dict[str, Any]:
    """The case as keyword arguments for the (httpx-based) TestClient."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=seeded.auth)
    data = kwargs.pop("data", None)
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)
    return kwargs


@schema.parametrize()
# An operation's examples share its seeded data and app on purpose (what they create stays).
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_document(
    case: schemathesis.Case,
    seeded: Seeded,
    fuzz_client: tuple[TestClient, _RecordingApp],
) -> None:
    client, recording = fuzz_client
    _point_at_seeded_rows(case, seeded)
    recording.last_traceback = None
    response = client.request(**_request_kwargs(case, seeded))
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException as exc:
        if recording.last_traceback:
            exc.add_note(f"Server traceback:\n{recording.last_traceback}")
        raise
