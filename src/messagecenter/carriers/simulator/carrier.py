"""The simulated carrier: no credentials, no network, behaves like Twilio.

It accepts messages with Twilio-like sids, reports queued -> sent -> delivered (a configurable
share undelivered) to sending/ as Twilio's status callbacks do, hands a client's texts to the
intake as Twilio's webhook does (the same batches and queue), refuses numbers that texted STOP
(error 21610) like Twilio does, and offers fictional numbers per country. Its clock is
injectable, and its delayed work runs when `tick()` is called (by the dispatcher loop).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import phonenumbers

from messagecenter.carriers.base import (
    AvailableNumber,
    CarrierAccepted,
    CarrierRejected,
    InboundSms,
    OutboundSms,
    StatusReport,
)
from messagecenter.carriers.simulator.numbers import fictional_numbers
from messagecenter.carriers.twilio.errors import explain  # it fails with Twilio's codes
from messagecenter.clock import Clock
from messagecenter.models import status
from messagecenter.sms.keywords import Keyword, classify_keyword

SENT_AFTER = timedelta(milliseconds=400)
DELIVERED_AFTER = timedelta(milliseconds=1200)
# Delivery failures the simulator picks from, as Twilio reports them.
FAILURE_CODES = (30003, 30005, 30006, 30008)


class SimulatedCarrier:
    name = "simulator"

    def __init__(
        self,
        clock: Clock,
        *,
        deliver_inbound: Callable[[InboundSms], object],
        deliver_status: Callable[[StatusReport], object],
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
        handles_keywords: Callable[[str], bool] | None = None,
    ) -> None:
        """`handles_keywords(number)` says whether the carrier answers keywords on a number
        (Twilio's default); where it does not, it neither records opt-outs nor blocks sends."""
        self._clock = clock
        self._deliver_inbound = deliver_inbound
        self._deliver_status = deliver_status
        self._failure_rate = failure_rate
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        self._due: list[tuple[datetime, int, StatusReport]] = []
        self._sent: dict[int, CarrierAccepted] = {}  # by our message id
        self._opted_out: set[tuple[str, str]] = set()  # (business number, client phone)
        self._handles_keywords = handles_keywords or (lambda _number: True)

    # -- sending
    def send(self, sms: OutboundSms) -> CarrierAccepted:
        if not _is_valid(sms.to_phone):
            raise CarrierRejected(
                "The 'To' number is not a valid phone number.", failure=explain(21211)
            )
        with self._lock:
            if (sms.from_phone, sms.to_phone) in self._opted_out:
                raise CarrierRejected(
                    "Attempt to send to unsubscribed recipient", failure=explain(21610)
                )
            if sms.message_id in self._sent:  # the same message twice: Twilio would bill twice
                return self._sent[sms.message_id]
            accepted = CarrierAccepted("SM" + uuid.uuid4().hex, status.QUEUED)
            self._sent[sms.message_id] = accepted
            now = self._clock.now()
            self._schedule(now + SENT_AFTER, _report(sms, accepted, status.SENT))
            if self._rng.random() < self._failure_rate:
                code = self._rng.choice(FAILURE_CODES)
                self._schedule(
                    now + DELIVERED_AFTER, _report(sms, accepted, status.UNDELIVERED, code)
                )
            else:
                self._schedule(now + DELIVERED_AFTER, _report(sms, accepted, status.DELIVERED))
        return accepted

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        """The simulator knows our id, so the match is exact."""
        with self._lock:
            found = self._sent.get(sms.message_id)
        return [found] if found is not None else []

    def sent_count(self) -> int:
        with self._lock:
            return len(self._sent)

    # -- the client's phone
    def receive_from_phone(
        self, from_phone: str, to_phone: str, body: str, media_urls: list[str] | None = None
    ) -> str:
        """A client texts the business: handled as Twilio would, then sent to the app."""
        match = classify_keyword(body)
        if match and not self._handles_keywords(to_phone):  # asked only for a keyword
            match = None
        with self._lock:
            if match and match.kind is Keyword.OPT_OUT:
                self._opted_out.add((to_phone, from_phone))
            elif match and match.kind is Keyword.OPT_IN:
                self._opted_out.discard((to_phone, from_phone))
        sid = "SM" + uuid.uuid4().hex
        self._deliver_inbound(InboundSms(sid, from_phone, to_phone, body, list(media_urls or [])))
        return sid

    # -- numbers
    def suggest_numbers(self, country: str, near: str | None, limit: int) -> list[AvailableNumber]:
        return [AvailableNumber(n, country) for n in fictional_numbers(country, near, limit)]

    def acquire_number(self, phone_number: str, sms_webhook_url: str) -> str:
        return "PN" + uuid.uuid4().hex

    def release_number(self, carrier_sid: str) -> None:
        return None

    def sms_webhook_url(self, public_url: str) -> str:
        # Its texts come from its phone (POST /simulator/messages) and go to the intake
        # directly (deliver_inbound); the URL is where that phone posts, for the record.
        return public_url.rstrip("/") + "/simulator/messages"

    def status_callback_url(self, public_url: str, message_id: int) -> str | None:
        return None  # its reports go straight to sending (deliver_status), not over HTTP

    # -- time
    def tick(self) -> None:
        """Send every status report that has come due."""
        now = self._clock.now()
        due: list[StatusReport] = []
        with self._lock:
            while self._due and self._due[0][0] <= now:
                due.append(heapq.heappop(self._due)[2])
        for report in due:
            self._deliver_status(report)

    def _schedule(self, at: datetime, report: StatusReport) -> None:
        heapq.heappush(self._due, (at, next(self._sequence), report))


def _report(
    sms: OutboundSms, accepted: CarrierAccepted, new_status: str, code: int | None = None
) -> StatusReport:
    """Our status as Twilio would word it: the simulator's words are our own."""
    payload = {"MessageSid": accepted.carrier_sid, "MessageStatus": new_status}
    failure = None
    if code is not None:
        payload["ErrorCode"] = str(code)
        failure = explain(code)
    return StatusReport(accepted.carrier_sid, new_status, sms.message_id, failure, payload)


def _is_valid(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
