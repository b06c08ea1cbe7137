"""The delivery pass against a real local endpoint: retried with backoff and jitter on any
non-2xx, refused connection or timeout until it recovers, given up after 24 hours, never lost
when a claim is abandoned, and a failing endpoint holds up nobody else."""

from __future__ import annotations

import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.integrations import service
from messagecenter.integrations.delivery import (
    PER_ENDPOINT_PER_PASS,
    Backoff,
    Outcome,
    WebhookDeliverer,
)
from messagecenter.integrations.signing import signature
from messagecenter.integrations.targets import Resolver, system_resolver
from messagecenter.models import WebhookDelivery, WebhookEndpoint
from messagecenter.models.webhook import (
    DELIVERY_CANCELLED,
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    EVENT_MESSAGE_RECEIVED,
)
from tests.factories import SetUp, make_business
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.live_server import free_port


def hook(
    session: Session,
    business_id: int,
    url: str,
    clock: FrozenClock,
    resolve: Resolver | None = None,
) -> WebhookEndpoint:
    created, _ = service.create_endpoint(
        session,
        business_id,
        url=url,
        events=[EVENT_MESSAGE_RECEIVED],
        description="",
        at=clock.now(),
        allow_private=True,
        resolve=resolve or system_resolver,
    )
    return created


def event(session: Session, business_id: int, clock: FrozenClock, n: int = 1) -> None:
    service.record_event(session, business_id, EVENT_MESSAGE_RECEIVED, {"n": n}, clock.now())
    session.commit()


def rows(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_failing_endpoint_is_retried_with_backoff_until_it_recovers(
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    endpoint = hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    receiver.answer(500, 503, 302, then=204)
    expected = random.Random(3)  # the deliverer's seed: the same jitter, drawn in turn
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(seconds=80))
    waits = []
    for attempt, status in enumerate([500, 503, 302], start=1):
        assert deliverer.run_once() == 1
        (delivery,) = rows(session)
        assert delivery.state == DELIVERY_PENDING
        assert (delivery.attempts, delivery.last_status_code) == (attempt, status)
        assert delivery.last_error == f"answered HTTP {status}"
        wait = backoff.delay(attempt, expected)
        assert delivery.next_attempt_at == clock.now() + wait
        waits.append(wait)
        assert deliverer.run_once() == 0  # not due yet
        clock.set(delivery.next_attempt_at)
    # min(10 s * 2^(n-1), cap), jittered over its upper half
    assert timedelta(seconds=5) <= waits[0] <= timedelta(seconds=10)
    assert timedelta(seconds=10) <= waits[1] <= timedelta(seconds=20)
    assert timedelta(seconds=20) <= waits[2] <= timedelta(seconds=40)
    assert deliverer.run_once() == 1
    (delivery,) = rows(session)
    assert delivery.state == DELIVERY_DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (4, 204, None)
    assert delivery.delivered_at == clock.now() and delivery.next_attempt_at is None
    # Every attempt: the same event id and body, signed at the attempt's own time.
    assert [r.status for r in receiver.received] == [500, 503, 302, 204]
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.event_id}
    assert {r.body.decode() for r in receiver.received} == {delivery.body}
    last = receiver.received[-1]
    timestamp = int(last.headers["webhook-timestamp"])
    assert timestamp == int(clock.now().timestamp())
    assert last.headers["webhook-signature"] == signature(
        endpoint.secret, delivery.event_id, timestamp, delivery.body
    )
    assert last.headers["content-type"] == "application/json"
    assert last.path == "/hooks"
    assert json.loads(last.body)["data"] == {"n": 1}


def test_a_refused_connection_and_a_timeout_are_retried(
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    hook(session, shop.business.id, f"http://127.0.0.1:{free_port()}/nobody-listens", clock)
    hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    receiver.hold_next()  # answered only after the deliverer's 2 s timeout
    assert deliverer.run_once() == 2
    receiver.release()
    refused, timed_out = rows(session)
    assert refused.state == timed_out.state == DELIVERY_PENDING
    assert refused.last_status_code is None and "ConnectError" in (refused.last_error or "")
    assert timed_out.last_status_code is None and timed_out.last_error == "timed out after 2 s"
    assert refused.next_attempt_at is not None and refused.next_attempt_at > clock.now()


class Trickler:
    """An endpoint that answers its status line one byte every 0.2 s, for up to a minute:
    each read is quick, the answer never ends. Counts the bytes it got to send."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/slow"
        self.sent = 0
        self.cut = threading.Event()  # the deliverer hung up before the minute was over
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            connection.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 300
            for byte in answer:
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    self.cut.set()
                    return
                self.sent += 1
                if self.cut.wait(0.2):
                    return

    def close(self) -> None:
        self.cut.set()
        self.server.close()
        self.thread.join(timeout=10)


def test_an_endpoint_that_trickles_its_answer_is_cut_off_at_the_timeout(
    session: Session, shop: SetUp, clock: FrozenClock, deliverer: WebhookDeliverer
) -> None:
    """httpx's timeout bounds each read; the whole call must end at the deliverer's 2 s too,
    or one such endpoint would hold the webhook thread for every business."""
    trickler = Trickler()
    try:
        hook(session, shop.business.id, trickler.url, clock)
        event(session, shop.business.id, clock)
        assert deliverer.run_once() == 1
        (delivery,) = rows(session)
        assert delivery.state == DELIVERY_PENDING
        assert delivery.last_error == "timed out after 2 s"
        assert trickler.sent < 300  # hung up on long before the answer's end (a minute)
    finally:
        trickler.close()


def test_a_delivery_is_given_up_24_hours_after_its_event_and_can_be_sent_again(
    session: Session,
    sessions: object,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    endpoint = hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    start = clock.now()
    receiver.answer(then=500)
    deliverer = WebhookDeliverer(
        sessions,  # type: ignore[arg-type]
        clock,
        timeout=2,
        allow_private=True,
        concurrency=1,
        backoff=Backoff(base=timedelta(minutes=10), cap=timedelta(hours=2)),
        rng=random.Random(5),
    )
    try:
        attempts_at = []
        while True:
            assert deliverer.run_once() == 1
            attempts_at.append(clock.now())
            (delivery,) = rows(session)
            if delivery.state != DELIVERY_PENDING:
                break
            assert delivery.next_attempt_at is not None
            assert delivery.next_attempt_at - clock.now() <= timedelta(hours=2)
            clock.set(delivery.next_attempt_at)
        assert delivery.state == DELIVERY_FAILED
        assert attempts_at[-1] == start + timedelta(hours=24)  # the last at the give-up time
        assert attempts_at[-2] < start + timedelta(hours=24)
        assert delivery.attempts == len(attempts_at) == len(receiver.received)
        assert 10 < len(attempts_at) < 40
        # "Send again": delivered at once, same id.
        receiver.answer(then=200)
        service.send_again(session, shop.business.id, endpoint.id, delivery.id, clock.now())
        session.commit()
        assert deliverer.run_once() == 1
        (delivery,) = rows(session)
        assert delivery.state == DELIVERY_DELIVERED and delivery.attempts == 1
        assert receiver.received[-1].headers["webhook-id"] == delivery.event_id
    finally:
        deliverer.close()


def test_a_claim_abandoned_mid_delivery_comes_due_again_after_its_lease(
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    (lost,) = deliverer.claim()  # then the process dies: no POST, no outcome
    assert deliverer.run_once() == 0  # held by its lease
    clock.advance(deliverer.lease - timedelta(seconds=1))
    assert deliverer.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert deliverer.run_once() == 1
    (delivery,) = rows(session)
    assert delivery.state == DELIVERY_DELIVERED and delivery.attempts == 2
    # The dead claim's outcome, were it to arrive late, changes nothing.
    assert deliverer._record(lost, Outcome(500, "answered HTTP 500")) is None
    assert rows(session)[0].state == DELIVERY_DELIVERED


def test_a_failing_endpoint_defers_its_other_deliveries_without_counting_them(
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    hook(session, shop.business.id, receiver.url, clock)
    for n in range(3):
        event(session, shop.business.id, clock, n)
    receiver.answer(500, then=204)
    assert deliverer.run_once() == 1  # the first failed: the others were not tried
    first, second, third = rows(session)
    assert (first.attempts, second.attempts, third.attempts) == (1, 0, 0)
    assert second.next_attempt_at == third.next_attempt_at == first.next_attempt_at
    assert second.claimed_at is None
    assert first.next_attempt_at is not None
    clock.set(first.next_attempt_at)
    assert deliverer.run_once() == 3
    assert {r.state for r in rows(session)} == {DELIVERY_DELIVERED}
    ids = [json.loads(r.body)["data"]["n"] for r in receiver.received]
    assert ids == [0, 0, 1, 2]  # in order


def test_a_target_that_turned_private_is_refused_at_delivery(
    session: Session, shop: SetUp, clock: FrozenClock, deliverer: WebhookDeliverer
) -> None:
    hook(session, shop.business.id, "http://127.0.0.1:9/hooks", clock)
    event(session, shop.business.id, clock)
    strict = WebhookDeliverer(
        deliverer._sessions, clock, timeout=2, allow_private=False, concurrency=1
    )
    try:
        assert strict.run_once() == 1
    finally:
        strict.close()
    (delivery,) = rows(session)
    assert delivery.state == DELIVERY_PENDING
    assert (delivery.last_error or "").startswith("refused: The host '127.0.0.1' is at")


def test_deliveries_go_only_to_the_events_own_business(
    session: Session,
    shop: SetUp,
    context: AppContext,
    clock: FrozenClock,
    deliverer: WebhookDeliverer,
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    with WebhookReceiver() as ours, WebhookReceiver() as theirs:
        hook(session, shop.business.id, ours.url, clock)
        hook(session, other.business.id, theirs.url, clock)
        event(session, shop.business.id, clock, 1)
        event(session, other.business.id, clock, 2)
        assert deliverer.run_once() == 2
        assert [json.loads(r.body)["business_id"] for r in ours.received] == [shop.business.id]
        assert [json.loads(r.body)["business_id"] for r in theirs.received] == [other.business.id]


def test_a_slow_endpoint_holds_up_no_other_and_no_outbox(
    committed_context: AppContext, receiver: WebhookReceiver
) -> None:
    with WebhookReceiver() as other:
        _slow_and_quick(committed_context, receiver, other)


def _slow_and_quick(
    committed_context: AppContext, receiver: WebhookReceiver, other: WebhookReceiver
) -> None:
    """With the real worker: one endpoint hangs until released; another business's endpoint
    is delivered meanwhile, and the worker's outbox pass goes on."""
    context = committed_context
    clock = context.clock
    assert isinstance(clock, FrozenClock)
    with session_scope(context.sessions) as session:
        slow = make_business(session, context.carrier, clock.now())
        quick = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    with session_scope(context.sessions) as session:
        hook(session, slow.business.id, receiver.url, clock)
        hook(session, quick.business.id, other.url, clock)
        receiver.hold_next()
        event(session, slow.business.id, clock)
        event(session, quick.business.id, clock)
    webhooks = WebhookDeliverer(
        context.sessions, clock, timeout=30, allow_private=True, concurrency=4
    )
    context.worker._webhooks = webhooks
    stop = threading.Event()
    worker = threading.Thread(target=context.worker.run_forever, args=(stop,), daemon=True)
    worker.start()
    try:
        receiver.wait_holding()
        other.wait_until("the quick endpoint got its event", lambda: len(other.received) == 1)
        assert context.worker.run_once() == 0  # the outbox is not waiting on the slow one
    finally:
        receiver.release()
        stop.set()
        context.worker.wake()
        worker.join(timeout=30)
        webhooks.close()
    assert not worker.is_alive()


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(
    status: int,
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    receiver.answer(status)
    assert deliverer.run_once() == 1
    assert rows(session)[0].state == DELIVERY_DELIVERED


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (openssl's own command)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_connects_to_the_checked_address_and_checks_the_certificate_for_the_name(
    session: Session, sessions: sessionmaker[Session], shop: SetUp, clock: FrozenClock,
    tmp_path: Path,
) -> None:  # fmt: skip
    """hooks.test resolves (here) to 127.0.0.1: the call goes to that address with the name
    in TLS (SNI and the certificate check) and in the Host header; a certificate for another
    name is refused."""
    cert, key = _certificate(tmp_path, "hooks.test")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    wrong_cert, _ = _certificate(tmp_path, "other.test")
    resolved = []

    def resolve(host: str, port: int) -> list[IPv4Address]:
        resolved.append(host)
        return [IPv4Address("127.0.0.1")]

    with WebhookReceiver(tls=server_tls) as receiver:
        hook(session, shop.business.id, f"https://hooks.test:{receiver.port}/in", clock, resolve)
        event(session, shop.business.id, clock)
        for trusted, delivered in ((wrong_cert, False), (cert, True)):
            deliverer = WebhookDeliverer(
                sessions, clock, timeout=5, allow_private=True, concurrency=1, resolve=resolve,
                transport=httpx.HTTPTransport(
                    verify=ssl.create_default_context(cafile=str(trusted))
                    if trusted != cert else client_tls
                ),
            )  # fmt: skip
            try:
                assert deliverer.run_once() == 1
            finally:
                deliverer.close()
            (delivery,) = rows(session)
            assert (delivery.state == DELIVERY_DELIVERED) is delivered
            if not delivered:
                assert "CERTIFICATE_VERIFY_FAILED" in (delivery.last_error or "")
                assert delivery.next_attempt_at is not None
                clock.set(delivery.next_attempt_at)
    assert resolved == ["hooks.test"] * 3  # registered, then each delivery
    (received,) = receiver.received
    assert received.headers["host"] == f"hooks.test:{receiver.port}"
    assert received.path == "/in"


def test_the_next_address_is_tried_when_one_refuses_the_connection(
    session: Session, sessions: sessionmaker[Session], shop: SetUp, clock: FrozenClock,
    receiver: WebhookReceiver,
) -> None:  # fmt: skip
    def resolve(host: str, port: int) -> list[IPv4Address]:
        return [IPv4Address("127.0.0.2"), IPv4Address("127.0.0.1")]  # nothing on .2

    hook(session, shop.business.id, f"http://hooks.test:{receiver.port}/hooks", clock, resolve)
    event(session, shop.business.id, clock)
    deliverer = WebhookDeliverer(
        sessions, clock, timeout=5, allow_private=True, concurrency=1, resolve=resolve
    )
    try:
        assert deliverer.run_once() == 1
    finally:
        deliverer.close()
    assert rows(session)[0].state == DELIVERY_DELIVERED
    assert receiver.received[0].headers["host"] == f"hooks.test:{receiver.port}"


def test_a_claim_too_old_to_finish_inside_its_lease_is_released_untried(
    session: Session, shop: SetUp, clock: FrozenClock, receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:  # fmt: skip
    hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    claims = deliverer.claim()
    clock.advance(timedelta(seconds=2 * 2 + 5 + 1))  # queued behind slower endpoints
    assert deliverer._deliver_in_order(claims, None) == 0
    (delivery,) = rows(session)
    assert (delivery.attempts, delivery.claimed_at) == (0, None)
    assert delivery.next_attempt_at == clock.now()
    assert receiver.received == []


def test_one_endpoint_s_backlog_leaves_room_in_a_pass_for_every_other_endpoint(
    session: Session,
    context: AppContext,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    busy = hook(session, shop.business.id, receiver.url + "?busy", clock)
    for n in range(30):  # a long backlog, all due before the other business's one event
        service.record_event(
            session, shop.business.id, EVENT_MESSAGE_RECEIVED, {"n": n}, clock.now()
        )
    session.commit()
    clock.advance(timedelta(seconds=1))
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    quiet = hook(session, other.business.id, receiver.url + "?quiet", clock)
    event(session, other.business.id, clock)

    claims = deliverer.claim()
    by_endpoint = {e: sum(c.endpoint_id == e for c in claims) for e in (busy.id, quiet.id)}
    assert by_endpoint == {busy.id: PER_ENDPOINT_PER_PASS, quiet.id: 1}


def test_a_delivery_written_as_its_endpoint_was_deleted_is_never_sent(
    session: Session,
    shop: SetUp,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    deliverer: WebhookDeliverer,
) -> None:
    endpoint = hook(session, shop.business.id, receiver.url, clock)
    event(session, shop.business.id, clock)
    # The delete committed while the event's transaction was still writing its delivery.
    endpoint.deleted_at = clock.now()
    session.commit()

    assert deliverer.run_once() == 0
    (delivery,) = rows(session)
    assert delivery.state == DELIVERY_CANCELLED
    assert receiver.received == []
