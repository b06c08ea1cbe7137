"""Everything a process shares: settings, database, clock, carrier, event bus, dispatcher."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.carriers.base import Carrier, InboundSms, StatusReport
from messagecenter.carriers.simulator.carrier import LOOKUP_MARGIN, SimulatedCarrier
from messagecenter.clock import Clock, SystemClock
from messagecenter.config import Settings
from messagecenter.db import make_engine, make_session_factory
from messagecenter.events import EventBus, attach_bus
from messagecenter.intake.queue import QueueWriter
from messagecenter.intake.service import Intake
from messagecenter.integrations.delivery import WebhookDeliverer
from messagecenter.numbers import queries as number_queries
from messagecenter.sending.dispatcher import Dispatcher, Waits
from messagecenter.sending.reports import StatusReports
from messagecenter.sms.content_rules import load_rules, use_rules
from messagecenter.worker import BackgroundWorker


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    bus: EventBus
    intake: Intake
    # Carrier status reports, written in batches (Twilio's callbacks, the simulator's).
    reports: StatusReports
    carrier: Carrier
    dispatcher: Dispatcher
    worker: BackgroundWorker
    # Set when the process is told to stop (SIGTERM): the worker claims nothing more.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Outgoing webhooks' deliveries (run by the worker in a thread of their own).
    webhooks: WebhookDeliverer | None = None

    def stop_dispatching(self) -> None:
        self.stopping.set()
        self.worker.wake()

    @property
    def simulator(self) -> SimulatedCarrier | None:
        return self.carrier if isinstance(self.carrier, SimulatedCarrier) else None


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    carrier: Carrier | None = None,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    rng: random.Random | None = None,
) -> AppContext:
    """Wire a process together. Tests pass their own clock, carrier or session factory."""
    use_rules(load_rules(settings.content_rules_file))  # a bad rules file stops the start
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    on_postgresql = engine.dialect.name == "postgresql"
    # Sessions a caller passes (a test's, bound to one connection) take every write, the
    # webhook's too; otherwise on PostgreSQL the webhook queues its texts on the event loop.
    queue_writer = (
        QueueWriter(engine.url.render_as_string(hide_password=False), clock)
        if on_postgresql and sessions is None
        else None
    )
    sessions = sessions or make_session_factory(engine)
    bus = EventBus()
    attach_bus(sessions, bus)
    intake = Intake(sessions, clock, queue_inbound=on_postgresql, queue_writer=queue_writer)
    reports = StatusReports(sessions, clock)
    if carrier is None:

        def deliver_inbound(inbound: InboundSms) -> None:
            # The simulated phone's texts take the webhook's path: batched, then queued on
            # PostgreSQL for the worker (woken here, as the webhook wakes it).
            if intake.accept_inbound_sync(inbound):
                worker.wake()

        carrier = make_carrier(
            settings, clock, deliver_inbound, sessions, rng, deliver_status=reports.record_reports
        )
    dispatcher = Dispatcher(
        sessions,
        carrier,
        clock,
        settings.public_url,
        concurrency=settings.dispatch_concurrency,
        waits=outbox_waits(settings),
        rng=rng,
        paced=settings.pace_numbers,
    )
    webhooks = WebhookDeliverer(
        sessions,
        clock,
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhooks_allow_private,
        rng=rng,
    )
    worker = BackgroundWorker(intake, dispatcher, carrier, sessions, clock, webhooks)
    return AppContext(
        settings,
        engine,
        sessions,
        clock,
        bus,
        intake,
        reports,
        carrier,
        dispatcher,
        worker,
        webhooks=webhooks,
    )


def outbox_waits(settings: Settings) -> Waits:
    return Waits(
        claim_timeout=timedelta(seconds=settings.claim_timeout_seconds),
        settle_after=timedelta(seconds=settings.settle_after_seconds),
        give_up_after=timedelta(seconds=settings.give_up_after_seconds),
    )


def make_carrier(
    settings: Settings,
    clock: Clock,
    deliver_inbound: Callable[[InboundSms], object],
    sessions: sessionmaker[Session],
    rng: random.Random | None = None,
    *,
    deliver_status: Callable[[Sequence[StatusReport]], Sequence[object] | None],
) -> Carrier:
    """The carrier the settings name. The simulator hands the reports that come due together
    to `deliver_status` (StatusReports.record_reports: one transaction)."""
    if settings.carrier == "twilio":
        from messagecenter.carriers.twilio.carrier import TwilioCarrier

        return TwilioCarrier(settings)

    def handles_keywords(phone_number: str) -> bool:
        with sessions() as session:
            return number_queries.carrier_handles_keywords(session, phone_number)

    return SimulatedCarrier(
        clock,
        deliver_inbound=deliver_inbound,
        deliver_status=deliver_status,
        failure_rate=settings.simulator_failure_rate,
        rng=rng,
        handles_keywords=handles_keywords,
        sent_after=timedelta(milliseconds=settings.simulator_sent_after_ms),
        delivered_after=timedelta(milliseconds=settings.simulator_delivered_after_ms),
        lookup_window=timedelta(seconds=settings.give_up_after_seconds) + LOOKUP_MARGIN,
    )
