"""/metrics: each metric is there and moves with what it counts; the database figures are the
database's; access by token, else loopback only; several processes add up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from pydantic import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from messagecenter import metrics
from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.intake.service import MAX_ATTEMPTS
from messagecenter.models import Client, InboundQueueItem
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.factories import SetUp, make_business, make_client

LOOPBACK = ("127.0.0.1", 50000)
CLIENT_PHONE = "+12125550142"
NAMES = (
    "messagecenter_inbound_texts_total",
    "messagecenter_status_callbacks_total",
    "messagecenter_webhook_signature_refusals_total",
    "messagecenter_sends_total",
    "messagecenter_dispatch_latency_seconds_bucket",
    "messagecenter_outbox_depth",
    "messagecenter_outbox_oldest_due_age_seconds",
    "messagecenter_inbound_queue_depth",
    "messagecenter_inbound_parked_texts",
    "messagecenter_live_event_subscribers",
)


def samples(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


def value(page: str, name: str, **labels: str) -> float:
    return samples(page)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def local(context: AppContext) -> Iterator[TestClient]:
    """The app, seen from this machine (the loopback address)."""
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, client=LOOPBACK) as client:
        yield client


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    make_client(session, created.business, clock.now(), cell_phone=CLIENT_PHONE)
    session.commit()
    return created


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def signed_post(client: TestClient, path: str, form: dict[str, str]) -> int:
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ).status_code


def inbound(shop: SetUp, sid: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CLIENT_PHONE,
        "To": shop.number.phone_number,
        "Body": "Hello",
        "NumMedia": "0",
    }


def send(client: TestClient, shop: SetUp, session: Session) -> None:
    client_id = session.scalar(select(Client.id).where(Client.business_id == shop.business.id))
    session.rollback()  # its connection back to the pool (one, on SQLite), for the request
    response = client.post(
        "/api/v1/messages", json={"client_id": client_id, "body": "See you at 5"}, headers=shop.auth
    )
    assert response.status_code == 201, response.text


def test_the_page_has_every_named_metric(local: TestClient) -> None:
    page = scrape(local)

    for name in NAMES:
        assert name in page, name
    for outcome in metrics.OUTCOMES:
        assert f'messagecenter_sends_total{{outcome="{outcome}"}}' in page


def test_a_received_text_a_callback_and_a_refused_signature_are_counted(
    local: TestClient, shop: SetUp
) -> None:
    before = scrape(local)

    assert signed_post(local, "/webhooks/twilio/sms", inbound(shop, "SM" + "1" * 32)) == 200
    status = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
    assert signed_post(local, "/webhooks/twilio/status?message=999999", status) == 204
    forged = local.post("/webhooks/twilio/sms", data=inbound(shop, "SM" + "3" * 32))
    assert forged.status_code == 403

    after = scrape(local)
    moved = [
        value(after, name, **labels) - value(before, name, **labels)
        for name, labels in (
            ("messagecenter_inbound_texts_total", {}),
            ("messagecenter_status_callbacks_total", {}),
            ("messagecenter_webhook_signature_refusals_total", {"webhook": "sms"}),
            ("messagecenter_webhook_signature_refusals_total", {"webhook": "status"}),
        )
    ]
    assert moved == [1, 1, 1, 0]


def test_a_dispatched_send_counts_its_outcome_and_latency(
    local: TestClient, context: AppContext, shop: SetUp, session: Session, clock: FrozenClock
) -> None:
    before = scrape(local)
    send(local, shop, session)
    clock.advance(timedelta(seconds=3))  # waited in the outbox this long

    assert context.worker.run_once() >= 1

    after = scrape(local)
    accepted = ("messagecenter_sends_total", {"outcome": "accepted"})
    count = ("messagecenter_dispatch_latency_seconds_count", {})
    total = ("messagecenter_dispatch_latency_seconds_sum", {})
    assert [value(after, n, **lb) - value(before, n, **lb) for n, lb in (accepted, count)] == [
        1,
        1,
    ]
    assert value(after, *total[:1]) - value(before, *total[:1]) == pytest.approx(3.0)


def test_the_outbox_and_queue_figures_are_the_databases(
    local: TestClient, context: AppContext, shop: SetUp, session: Session, clock: FrozenClock
) -> None:
    empty = scrape(local)
    assert value(empty, "messagecenter_outbox_depth", state="due") == 0
    assert value(empty, "messagecenter_outbox_oldest_due_age_seconds") == 0

    send(local, shop, session)
    clock.advance(timedelta(seconds=40))
    send(local, shop, session)
    clock.advance(timedelta(seconds=5))
    for n, attempts in enumerate([0, 1, MAX_ATTEMPTS, MAX_ATTEMPTS + 2]):
        session.add(
            InboundQueueItem(
                carrier_sid=f"SM{n:032x}",
                from_phone=CLIENT_PHONE,
                to_phone=shop.number.phone_number,
                body="hi",
                media_urls=[],
                received_at=clock.now(),
                attempts=attempts,
            )
        )
    session.commit()

    page = scrape(local)
    assert value(page, "messagecenter_outbox_depth", state="due") == 2
    assert value(page, "messagecenter_outbox_depth", state="scheduled") == 0
    assert value(page, "messagecenter_outbox_oldest_due_age_seconds") == 45
    assert value(page, "messagecenter_inbound_queue_depth") == 2
    assert value(page, "messagecenter_inbound_parked_texts") == 2

    context.worker._dispatcher.run_once()  # both handed over (the simulator takes them)
    handed = scrape(local)
    assert value(handed, "messagecenter_outbox_depth", state="due") == 0
    assert value(handed, "messagecenter_outbox_oldest_due_age_seconds") == 0


def test_live_event_subscribers_are_counted_while_connected(local: TestClient) -> None:
    context: AppContext = local.app.state.context  # type: ignore[attr-defined]
    before = value(scrape(local), "messagecenter_live_event_subscribers")

    async def subscribed() -> float:
        async with context.bus.subscribe(1):
            return await asyncio.to_thread(
                lambda: value(scrape(local), "messagecenter_live_event_subscribers")
            )

    assert asyncio.run(subscribed()) == before + 1
    assert value(scrape(local), "messagecenter_live_event_subscribers") == before


# ------------------------------------------------------------------------------ access


@pytest.mark.parametrize("peer", ["testclient", "10.0.0.7", "192.168.1.20"])
def test_without_a_token_only_loopback_clients_are_answered(context: AppContext, peer: str) -> None:
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app, client=(peer, 50000)) as client:
        # A forwarded-for header is anyone's to write: the connection's address decides.
        response = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})

    assert response.status_code == 403
    assert "MESSAGECENTER_METRICS_TOKEN" in response.text
    assert "messagecenter_" not in response.text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("testclient", False),
        ("localhost", False),  # a peer is an address; a name is no proof
        ("", False),
        (None, False),
    ],
)
def test_loopback_means_a_loopback_address(host: str | None, loopback: bool) -> None:
    assert metrics.is_loopback(host) is loopback


@pytest.fixture
def guarded(
    settings: Settings, engine: object, sessions: object, clock: FrozenClock
) -> Iterator[TestClient]:
    context = build_context(
        settings.model_copy(update={"metrics_token": "s3cret-token"}),
        clock=clock,
        engine=engine,  # type: ignore[arg-type]
        sessions=sessions,  # type: ignore[arg-type]
    )
    with TestClient(create_app(context=context, run_dispatcher=False), client=LOOPBACK) as c:
        yield c


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Bearer s3cret-token-and-more", "Basic s3cret-token"]
)
def test_with_a_token_set_it_is_required_even_from_loopback(
    guarded: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = guarded.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "messagecenter_" not in response.text


def test_with_the_token_the_page_is_served(guarded: TestClient) -> None:
    response = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})

    assert response.status_code == 200
    assert "messagecenter_outbox_depth" in response.text


def test_a_log_format_other_than_text_or_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="log_format"):
        Settings(log_format="xml")


# ------------------------------------------------------------------ several processes


def test_two_app_instances_report_the_same_database_figures(
    committed_context: AppContext, settings: Settings, clock: FrozenClock, database_url: str
) -> None:
    """Two processes on one database (two engines, two apps): whichever answers the scrape
    says the same about the outbox, the queue and parked texts."""
    with session_scope(committed_context.sessions) as session:
        shop = make_business(session, committed_context.carrier, clock.now())
        make_client(session, shop.business, clock.now(), cell_phone=CLIENT_PHONE)
        session.add(
            InboundQueueItem(
                carrier_sid="SM" + "9" * 32,
                from_phone=CLIENT_PHONE,
                to_phone=shop.number.phone_number,
                body="hi",
                media_urls=[],
                received_at=clock.now(),
                attempts=MAX_ATTEMPTS,
            )
        )
    other_engine = create_engine(database_url)
    other = build_context(settings, clock=clock, engine=other_engine)
    try:
        first = create_app(context=committed_context, run_dispatcher=False)
        second = create_app(context=other, run_dispatcher=False)
        with (
            TestClient(first, client=LOOPBACK) as one,
            TestClient(second, client=LOOPBACK) as two,
        ):
            with committed_context.sessions() as session:
                send(one, shop, session)
            clock.advance(timedelta(seconds=7))
            pages = [scrape(one), scrape(two)]
    finally:
        other_engine.dispose()

    database = (
        ("messagecenter_outbox_depth", {"state": "due"}),
        ("messagecenter_outbox_oldest_due_age_seconds", {}),
        ("messagecenter_inbound_queue_depth", {}),
        ("messagecenter_inbound_parked_texts", {}),
    )
    figures = [[value(page, name, **labels) for name, labels in database] for page in pages]
    assert figures[0] == figures[1] == [1, 7, 0, 1]


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from messagecenter import metrics
    assert metrics.multiprocess()
    for _ in range(int(sys.argv[1])):
        metrics.inbound_accepted()
    metrics.send_outcome("accepted")
    now = datetime.now(UTC)
    metrics.dispatched(now - timedelta(seconds=2), now)
    metrics.LIVE_SUBSCRIBERS.inc()
    if sys.argv[2] == "ended":
        metrics.process_ended()
    """
)


class _NoDatabase(Collector):
    def collect(self) -> Iterator[Metric]:
        return iter(())


def test_several_processes_add_up_in_the_multiprocess_directory(tmp_path: Path) -> None:
    """What `serve --workers N` relies on: each process writes its own values to
    PROMETHEUS_MULTIPROC_DIR and a scrape by any process sums them; a process that ended
    leaves the live gauge."""
    environment = {**os.environ, metrics.MULTIPROC_VARIABLE: str(tmp_path)}
    for count, state in ((3, "running"), (4, "ended")):
        subprocess.run(
            [sys.executable, "-c", WRITER, str(count), state], env=environment, check=True
        )

    page = metrics.render(_NoDatabase(), multiproc_dir=str(tmp_path)).decode()

    assert value(page, "messagecenter_inbound_texts_total") == 7
    assert value(page, "messagecenter_sends_total", outcome="accepted") == 2
    assert value(page, "messagecenter_dispatch_latency_seconds_count") == 2
    assert value(page, "messagecenter_dispatch_latency_seconds_sum") == pytest.approx(4.0)
    assert value(page, "messagecenter_live_event_subscribers") == 1


def test_serve_with_several_workers_gets_a_private_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_VARIABLE, raising=False)

    path = metrics.use_private_directory()

    assert os.environ[metrics.MULTIPROC_VARIABLE] == path
    assert Path(path).is_dir() and not any(Path(path).iterdir())


def test_an_operators_directory_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chosen = tmp_path / "metrics"
    monkeypatch.setenv(metrics.MULTIPROC_VARIABLE, str(chosen))

    assert metrics.use_private_directory() == str(chosen)
    assert chosen.is_dir()
