"""The simulated carrier: no credentials, no network, behaves like Twilio.

It accepts messages with Twilio-like sids, reports queued -> sent -> delivered (a configurable
share undelivered) to sending/ as Twilio's status callbacks do, hands a client's texts to the
intake as Twilio's webhook does (the same batches and queue), refuses numbers that texted STOP
(error 21610) like Twilio does, and offers fictional numbers per country. Its clock is
injectable, and its delayed work runs when `tick()` is called (by the worker loop): every
report that has come due is handed over at once, to be written in one transaction as
callbacks arriving together are (sending/reports.py). Its delays and failure rate are
settings (MESSAGECENTER_SIMULATOR_*); a delay of 0 reports at the next tick.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import uuid
from collections.abc import Callable, Sequence
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
from messagecenter.carriers.simulator.memory import SentMemory
from messagecenter.carriers.simulator.numbers import fictional_numbers
from messagecenter.carriers.twilio.errors import explain  # it fails with Twilio's codes
from messagecenter.clock import Clock
from messagecenter.models import status
from messagecenter.sms.keywords import Keyword, classify_keyword, may_be_keyword
from messagecenter.sms.toll_free import is_toll_free

SENT_AFTER = timedelta(milliseconds=400)
DELIVERED_AFTER = timedelta(milliseconds=1200)
# How long after its send a message may be looked up: our give-up time (default 10 minutes)
# and a margin for the worker pass that makes the last lookup. Once its final report was
# recorded, a minute (a lookup already under way still gets its answer).
LOOKUP_MARGIN = timedelta(minutes=1)
LOOKUP_WINDOW = timedelta(minutes=10) + LOOKUP_MARGIN
REMEMBER_AFTER_FINAL = timedelta(minutes=1)
# Delivery failures the simulator picks from, as Twilio reports them.
FAILURE_CODES = (30003, 30005, 30006, 30008)


class SimulatedCarrier:
    name = "simulator"

    def __init__(
        self,
        clock: Clock,
        *,
        deliver_inbound: Callable[[InboundSms], object],
        deliver_status: Callable[[Sequence[StatusReport]], Sequence[object] | None],
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
        handles_keywords: Callable[[str], bool] | None = None,
        country_of: Callable[[str], str | None] | None = None,
        sent_after: timedelta = SENT_AFTER,
        delivered_after: timedelta = DELIVERED_AFTER,
        lookup_window: timedelta = LOOKUP_WINDOW,
    ) -> None:
        """`handles_keywords(number)` says whether the carrier answers keywords on a number
        (Twilio's default); where it does not, it neither records opt-outs nor blocks sends.
        `country_of(number)` is the country whose keywords apply on a number (the app's lists,
        sms/keywords.py); by default the one the number itself belongs to, None if unknown.
        `deliver_status(reports)` writes reports that came due together; it may return one
        outcome per report, an exception for a report it could not record (whose message
        may then still be looked up, for `lookup_window` after its send)."""
        self._clock = clock
        self._deliver_inbound = deliver_inbound
        self._deliver_status = deliver_status
        self._failure_rate = failure_rate
        self._rng = rng or random.Random()
        self._sent_after = sent_after
        self._delivered_after = delivered_after
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        self._due: list[tuple[datetime, int, StatusReport]] = []
        self._sent = SentMemory(lookup_window, REMEMBER_AFTER_FINAL)  # by our message id
        self._taken = 0  # messages accepted since the start
        self._opted_out: set[tuple[str, str]] = set()  # (business number, client phone)
        self._handles_keywords = handles_keywords or (lambda _number: True)
        self._country_of = country_of or _number_country

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
            known = self._sent.sid(sms.message_id)
            if known is not None:  # the same message twice: Twilio would bill twice
                return CarrierAccepted(known, status.QUEUED)
            accepted = CarrierAccepted("SM" + uuid.uuid4().hex, status.QUEUED)
            now = self._clock.now()
            self._sent.add(sms.message_id, accepted.carrier_sid, now)
            self._taken += 1
            self._schedule(now + self._sent_after, _report(sms, accepted, status.SENT))
            delivered_at = now + max(self._delivered_after, self._sent_after)  # never first
            if self._rng.random() < self._failure_rate:
                code = self._rng.choice(FAILURE_CODES)
                self._schedule(delivered_at, _report(sms, accepted, status.UNDELIVERED, code))
            else:
                self._schedule(delivered_at, _report(sms, accepted, status.DELIVERED))
        return accepted

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        """The simulator knows our id, so the match is exact (for as long as our dispatcher
        may ask: see SentMemory)."""
        with self._lock:
            sid = self._sent.sid(sms.message_id)
        return [CarrierAccepted(sid, status.QUEUED)] if sid is not None else []

    def sent_count(self) -> int:
        """Messages taken since the start (each once, however often it was sent)."""
        with self._lock:
            return self._taken

    def remembered_count(self) -> int:
        """Messages whose sid `find_sent` still knows."""
        with self._lock:
            return len(self._sent)

    # -- the client's phone
    def receive_from_phone(
        self, from_phone: str, to_phone: str, body: str, media_urls: list[str] | None = None
    ) -> str:
        """A client texts the business: handled as Twilio would, then sent to the app."""
        match = None
        # The number is looked at only for what may be a keyword, as Twilio would: its
        # lists are the app's, for the number's country and kind.
        if may_be_keyword(body) and self._handles_keywords(to_phone):
            match = classify_keyword(
                body, country=self._country_of(to_phone), toll_free=is_toll_free(to_phone)
            )
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
        """Send every status report that has come due, all at once, in the order they came
        due (a message's sent before its final report); forget what can no longer be asked."""
        now = self._clock.now()
        due: list[StatusReport] = []
        with self._lock:
            while self._due and self._due[0][0] <= now:
                due.append(heapq.heappop(self._due)[2])
            self._sent.forget_due(now)
        if not due:
            return
        outcomes = self._deliver_status(due)
        recorded = [None] * len(due) if outcomes is None else outcomes
        with self._lock:
            for report, outcome in zip(due, recorded, strict=True):
                final = report.status in status.FINAL_STATUSES
                if final and report.message_id is not None and not isinstance(outcome, Exception):
                    self._sent.settled(report.message_id, now)

    def _schedule(self, at: datetime, report: StatusReport) -> None:
        heapq.heappush(self._due, (at, next(self._sequence), report))


def _number_country(phone_number: str) -> str | None:
    """The country a number belongs to (+1 416 is Canada); None for toll-free +1 numbers,
    which the whole plan shares, and for what cannot be parsed."""
    try:
        number = phonenumbers.parse(phone_number)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE:
        return None
    return phonenumbers.region_code_for_number(number)


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
