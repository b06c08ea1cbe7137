"""Logs: one line per request with its id (the one in the response header), every record during
the request carrying it; JSON lines that parse; a job step's line with its own id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter import logs
from messagecenter.app import create_app
from messagecenter.context import AppContext
from tests.factories import make_business, make_client


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


def _install(formatter: logging.Formatter) -> Iterator[Captured]:
    """Our handler's setup (filter and formatter) on the root logger, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def json_lines() -> Iterator[Captured]:
    yield from _install(logs.JsonFormatter())


@pytest.fixture
def text_lines() -> Iterator[Captured]:
    yield from _install(logs.TextFormatter())


@pytest.fixture
def client(context: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(context=context, run_dispatcher=False)) as client:
        yield client


def requests_logged(captured: Captured) -> list[dict[str, Any]]:
    return [e for e in captured.entries() if e["logger"] == logs.access_log.name]


def test_a_request_is_one_json_line_with_the_id_of_its_response_header(
    client: TestClient, json_lines: Captured
) -> None:
    response = client.get("/healthz?q=maria%40example.com&since=2026")

    [entry] = requests_logged(json_lines)  # every line parses as JSON, exactly one request
    assert response.headers["X-Request-ID"] == entry["request_id"]
    assert len(entry["request_id"]) == 32
    assert set(entry) >= {"time", "level", "logger", "message", "request_id"}
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert isinstance(entry["duration_ms"], float)
    # The query's names are kept, its values (a search, an email) are not.
    assert entry["query"] == "q=…&since=…"
    ours = [e for e in json_lines.entries() if e["logger"].startswith("messagecenter")]
    assert "maria" not in json.dumps(ours)


def test_each_request_gets_its_own_id(client: TestClient, json_lines: Captured) -> None:
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}

    assert len(ids) == 3
    assert {e["request_id"] for e in requests_logged(json_lines)} == ids


def test_records_logged_during_a_request_carry_its_id(
    client: TestClient, json_lines: Captured
) -> None:
    # A forged webhook: the route logs its refusal while the request runs.
    response = client.post("/webhooks/twilio/sms", data={"Body": "hi"})

    assert response.status_code == 403
    rid = response.headers["X-Request-ID"]
    refusal = [e for e in json_lines.entries() if "signature" in e["message"]]
    assert [e["request_id"] for e in refusal] == [rid]
    assert [e["status"] for e in requests_logged(json_lines)] == [403]


def test_a_well_formed_incoming_request_id_is_kept(
    client: TestClient, json_lines: Captured
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:0001.retry_2"})

    assert response.headers["X-Request-ID"] == "lb-7f3a:0001.retry_2"
    assert requests_logged(json_lines)[0]["request_id"] == "lb-7f3a:0001.retry_2"


@pytest.mark.parametrize(
    "incoming", ["x" * 65, "two words", "<script>", "id\u00e9", '{"level":"ERROR"}', ""]
)
def test_a_bad_incoming_request_id_is_replaced(
    client: TestClient, json_lines: Captured, incoming: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming.encode("utf-8")})

    rid = response.headers["X-Request-ID"]
    assert rid != incoming and len(rid) == 32 and rid.isalnum()
    assert requests_logged(json_lines)[0]["request_id"] == rid


def test_the_text_format_shows_the_id_and_the_fields(
    client: TestClient, text_lines: Captured
) -> None:
    rid = client.get("/healthz").headers["X-Request-ID"]

    [line] = [line for line in text_lines.lines() if logs.access_log.name in line]
    assert f"[{rid}]" in line
    assert "GET /healthz 200" in line
    assert "status=200" in line and "duration_ms=" in line


def test_a_job_step_that_did_work_logs_one_line_with_its_id(json_lines: Captured) -> None:
    worker_log = logging.getLogger("messagecenter.worker")
    with logs.job_step("worker pass") as job_id:
        worker_log.info("inside the step")
        logs.count(texts_processed=2, messages_handed_over=3, settled_by_lookup=0)
        logs.count(texts_processed=1)

    inside, summary = json_lines.entries()
    assert job_id.startswith("job-")
    assert inside["request_id"] == summary["request_id"] == summary["job_id"] == job_id
    assert summary["logger"] == logs.jobs_log.name
    assert (summary["texts_processed"], summary["messages_handed_over"]) == (3, 3)
    assert "settled_by_lookup" not in summary  # only what it did
    assert isinstance(summary["duration_ms"], float)


def test_a_job_step_that_found_nothing_logs_nothing(json_lines: Captured) -> None:
    with logs.job_step("worker pass"):
        logs.count(texts_processed=0)

    assert json_lines.lines() == []
    logs.count(texts_processed=5)  # outside any step: nowhere to add, no error


def test_the_worker_counts_what_a_pass_did(
    context: AppContext, client: TestClient, session: Session, json_lines: Captured
) -> None:
    shop = make_business(session, context.carrier, context.clock.now())
    maria = make_client(session, shop.business, context.clock.now())
    session.commit()
    sent = client.post(
        "/api/v1/messages", json={"client_id": maria.id, "body": "See you"}, headers=shop.auth
    )
    assert sent.status_code == 201

    with logs.job_step("worker pass") as job_id:
        context.worker.run_once()
    with logs.job_step("worker pass"):
        context.worker.run_once()  # nothing left: no line

    [summary] = [e for e in json_lines.entries() if e["logger"] == logs.jobs_log.name]
    assert summary["job_id"] == job_id
    assert summary["messages_handed_over"] == 1


def test_an_exception_is_kept_in_the_json_line(json_lines: Captured) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("messagecenter.test").exception("failed", extra={"step": "x"})

    [entry] = json_lines.entries()
    assert entry["level"] == "ERROR" and entry["step"] == "x" and entry["request_id"] == "-"
    assert "ValueError: boom" in entry["exception"]


def test_the_process_configuration_leaves_a_harness_alone_and_knows_two_formats() -> None:
    root = logging.getLogger()
    before = list(root.handlers)

    logs.configure_logging("json")  # pytest's handlers are there: nothing changes

    assert root.handlers == before
    assert logs.logging_config("json")["formatters"]["default"]["()"] is logs.JsonFormatter
    with pytest.raises(ValueError, match="text or json"):
        logs.logging_config("xml")


def test_ids_are_32_hex_digits_and_differ() -> None:
    from messagecenter.logs import new_id

    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
