"""The JSON API fuzzed from its own OpenAPI document (schemathesis): no input gets a 5xx.

One test per operation of the document (`/api/v1/...` and `/healthz`). Each runs against a
database seeded with two businesses (clients, conversations in and out, an unsubscribed client,
a contact without a profile) and sends every request with the first business's API key. Most
generated ids are turned into seeded ones (see _point_at_seeded_rows), so requests reach
existing rows, including the other business's, besides missing ids, boundaries, huge values and
wrong types. Schemathesis runs its examples, coverage and fuzzing phases with valid and invalid
inputs, derandomized: CI sends the same requests every run (as long as this module is unchanged:
Hypothesis derives the seed from the test's source).

Checked on every response: every check schemathesis has (`--checks all`): no 5xx, documented
status codes, content types, bodies and headers, schema-invalid input refused (the input
models are strict: `0` is no boolean, a number no date-time), schema-valid input accepted
except where a documented 400 is a rule the schema cannot say (configured below), `Allow` on
405, credentials enforced (probes sent without them).

Left out: `/api/v1/events` (an endless SSE stream, covered by tests/test_events.py),
`/simulator/...` (the development carrier's own endpoint), the Twilio webhooks (signed form
posts, covered by tests/webhooks) and the staff web pages (sessions and CSRF, not the API).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks
from fastapi.testclient import TestClient
from schemathesis.checks import CHECKS as CHECKS_REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext
from messagecenter.models import Conversation, Message
from messagecenter.saved_replies import service as saved_replies
from messagecenter.sending.compose import Sender, send_message
from tests.factories import make_business, make_client, text_from

MAX_EXAMPLES = 15
SEND_EXAMPLES = 40

CHECKS = CHECKS_REGISTRY.get_all()  # `--checks all`


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
                    },
                    {
                        # A schema-valid request these refuse with their documented 400 for a
                        # rule a JSON schema cannot say: a send names exactly one of client_id
                        # and conversation_id and has text or media; a number must be one the
                        # carrier suggested just now; a cell phone must be a valid mobile
                        # number in the business's country; a notification names its client
                        # one way and has the data its template uses; a template uses only
                        # its type's variables; a webhook URL must be http(s) at a public
                        # address (its host is resolved); a bulk send's text uses only the
                        # variables it can fill and fits the plan, its date ranges run forward;
                        # a saved reply has a one-word name of its own, uses only the client's
                        # and business's variables, and is filled only where the client has them;
                        # a note has some text (not only spaces) within its limit;
                        # a conversation's assignee is an active staff member of its business.
                        "include-name": [
                            "POST /api/v1/bulk-send-previews",
                            "POST /api/v1/bulk-sends",
                            "PATCH /api/v1/bulk-sends/{bulk_send_id}",
                            "POST /api/v1/notifications",
                            "POST /api/v1/notification-batches",
                            "PATCH /api/v1/notification-templates/{type_name}",
                            "POST /api/v1/message-batches",
                            "POST /api/v1/clients",
                            "PATCH /api/v1/clients/{client_id}",
                            "POST /api/v1/messages",
                            "POST /api/v1/conversations/{conversation_id}/messages",
                            "POST /api/v1/sms-number",
                            "POST /api/v1/sms-number/change",
                            "POST /api/v1/webhook-endpoints",
                            "POST /api/v1/saved-replies",
                            "PATCH /api/v1/saved-replies/{saved_reply_id}",
                            "PATCH /api/v1/conversations/{conversation_id}",
                            "POST /api/v1/saved-reply-texts",
                            "POST /api/v1/conversations/{conversation_id}/notes",
                        ],
                        "checks": {
                            "positive_data_acceptance": {
                                "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                            }
                        },
                    },
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
    """The app under test, as schemathesis reaches it (its ASGI transport, for the requests and
    for the probes some checks send). The app's lifespan is run by the fixture's TestClient,
    once per test; schemathesis would keep each app's lifespan running until the process
    ends."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


RECORDING = _RecordingApp()
schema.app = RECORDING  # every operation is sent to the app of the test running


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
    hours = saved_replies.save_reply(
        session, ours.business, name="hours", body="Hi [Firstname], we open at 9.", at=at
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
            "last_seen_message_id": messages,
            "saved_reply_id": [hours.id],
            "before": messages,
        },
    )


@pytest.fixture
def fuzz_client(context: AppContext) -> Iterator[tuple[TestClient, _RecordingApp]]:
    app = create_app(context=context, run_dispatcher=False)
    assert app.openapi() == DOCUMENT, "the fuzzed document is not the app's"
    RECORDING.app = app
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, RECORDING
    RECORDING.app = None


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


@schema.parametrize()
# An operation's examples share its seeded data and app on purpose (what they create stays).
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_document(
    case: schemathesis.Case,
    seeded: Seeded,
    fuzz_client: tuple[TestClient, _RecordingApp],
    server_errors: list[logging.LogRecord],
) -> None:
    _point_at_seeded_rows(case, seeded)
    # CompleteServerErrors answers an unexpected exception with a bare 500 and logs it: the
    # log holds the traceback that shows where the server broke.
    server_errors.clear()
    try:
        # Through schemathesis' own ASGI transport, so the checks that send probes (another
        # method, no credentials, a missing header) reach the same app.
        case.call_and_validate(headers=seeded.auth, checks=CHECKS)
    except BaseException as exc:
        for record in server_errors:
            if record.exc_info:
                trace = "".join(traceback.format_exception(*record.exc_info))
                exc.add_note(f"Server traceback:\n{trace}")
        raise
