"""A local fake of Twilio's REST API (2010-04-01) for the parts Message Center uses.

It answers what the Twilio adapter calls through the real `twilio` package — Account fetch
(the credentials check), Messages create / fetch / list, AvailablePhoneNumbers Local and
Mobile, IncomingPhoneNumbers create / fetch / list / update / delete — in Twilio's JSON shapes
and error format, and plays Twilio's side of
the webhooks: status callbacks and inbound messages, signed with the `twilio` package's own
``RequestValidator``. Every request is checked against Twilio's OpenAPI description
(``TwilioContract``); tests assert ``fake.contract_violations == []``.

In tests::

    with FakeTwilio(account_sid, auth_token) as fake:
        client = Client(account_sid, auth_token, http_client=<client rewriting the base URL>)
        ...
        fake.fail_next(21211)            # the next Messages create answers 400 / 21211
        fake.send_status(sid, "delivered")
        sid, answered = fake.send_inbound("+447400123456", number, "STOP")

By hand (from the repository root; Ctrl+C stops it)::

    .venv/bin/python -m tests.fakes.twilio_server --port 8899 \\
        --account-sid AC00000000000000000000000000000000 --auth-token secret

Point the app at it with MESSAGECENTER_TWILIO_API_URL=http://127.0.0.1:8899. Two extra
endpoints, outside Twilio's API and behind the same basic auth, drive the webhooks by hand:
``POST /_fake/inbound`` (From, To, Body, MediaUrl...) and ``POST /_fake/status`` (MessageSid,
MessageStatus, ErrorCode).

Deliberate simplifications: ``From`` is not required to be a number the account owns; numbers
are fictional (NANP 555-01xx, Ofcom / ACMA drama ranges) and deterministic; a released number
is not offered again; only US, CA, GB and AU have numbers for sale.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import math
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import phonenumbers
import uvicorn
from phonenumbers import geocoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.twilio_contract import ContractViolation, TwilioContract

log = logging.getLogger(__name__)

# A route handler: (path parameters, query, form) -> response.
_Handler = Callable[
    [dict[str, str], dict[str, list[str]], dict[str, list[str]]], Awaitable[Response]
]

API_VERSION = "2010-04-01"
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
MAX_BODY = 1600

ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21266: "'To' and 'From' number cannot be the same",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
    "number",
    21452: "Number is not available",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio phone "
    "number for this destination.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    70002: "Bad request",
}

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}


class NotRouted(LookupError):
    """Twilio would send nothing: the number is not (or no longer) ours, or has no URL."""


class TwilioError(Exception):
    """An error answered in Twilio's JSON error format."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, f"Twilio error {code}")
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {self.message}")

    def response(self) -> JSONResponse:
        return JSONResponse(
            twilio_error(self.code, self.message, self.status), self.status, headers=self.headers
        )


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class RecordedRequest:
    """One request the fake received (``status`` is filled in once it has been answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    violation: str | None = None
    status: int | None = None
    received_at: float = field(default_factory=time.time)  # the wall clock, when it arrived


@dataclass(frozen=True)
class _Fault:
    kind: Literal["error", "rate_limit", "server_error", "timeout"]
    status: int = 400
    code: int = 0
    message: str | None = None
    accept: bool = False
    seconds: float = 0.0
    retry_after: int = 1


@dataclass
class _Message:
    resource: dict[str, Any]
    seq: int
    status_callback: str | None = None
    media_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Offer:
    """A number for sale."""

    phone_number: str
    iso_country: str
    kind: Literal["local", "mobile"]
    sms: bool
    mms: bool
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    lata: str | None = None
    rate_center: str | None = None


@dataclass
class _Number:
    offer: _Offer
    resource: dict[str, Any]
    released: bool = False


# Places for a few area codes; other valid ones get libphonenumber's description.
AREA_INFO: dict[int, tuple[str, str, str, float, float, str | None, str | None]] = {
    212: ("New York", "NY", "10001", 40.7128, -74.006, "132", "NWYRCYZN01"),
    415: ("San Francisco", "CA", "94103", 37.7749, -122.4194, "722", "SNFC CNTL"),
    512: ("Austin", "TX", "78701", 30.2672, -97.7431, "558", "AUSTIN"),
    416: ("Toronto", "ON", "M5H 2N2", 43.6532, -79.3832, None, "TORONTO"),
    604: ("Vancouver", "BC", "V6B 1A1", 49.2827, -123.1207, None, "VANCOUVER"),
}
DEFAULT_AREA = {"US": 212, "CA": 416}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def rfc2822(moment: datetime) -> str:
    """Twilio's date format: "Thu, 24 Aug 2023 05:01:45 +0000"."""
    return format_datetime(moment)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def count_segments(body: str) -> int:
    """SMS segments: GSM-7 160 / 153 septets, otherwise UCS-2 70 / 67 code units."""
    if not body:
        return 1
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        units = len(body) + sum(1 for char in body if char in GSM7_EXTENSION)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def valid_number(value: str) -> bool:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        return False
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
    except phonenumbers.NumberParseException:
        return False


def country_of(value: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(value, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _us_ca_offers(country: str, area: int) -> list[_Offer]:
    info = AREA_INFO.get(area)
    offers = []
    for last in range(100, 200):
        number = f"+1{area}5550{last}"
        if not valid_number(number) or country_of(number) != country:
            return []  # no such area code in this country
        if info:
            locality, region, postal, lat, lon, lata, rate_center = info
        else:
            place = geocoder.description_for_number(phonenumbers.parse(number, None), "en")
            locality, _, region = place.partition(", ")
            postal, lat, lon, lata, rate_center = None, None, None, None, None
        offers.append(
            _Offer(
                number,
                country,
                "local",
                True,
                True,
                locality or None,
                region or None,
                postal,
                lat,
                lon,
                lata,
                rate_center,
            )
        )
    return offers


def offers_for(country: str, kind: Literal["local", "mobile"], area: int | None) -> list[_Offer]:
    """Every number Twilio would have for sale here (bought ones included)."""
    if country in ("US", "CA"):
        if kind == "mobile":
            return []
        return _us_ca_offers(country, area or DEFAULT_AREA[country])
    if country == "GB":
        if kind == "mobile":
            return [_Offer(f"+447400123{n:03d}", "GB", "mobile", True, False) for n in range(100)]
        return [
            _Offer(f"+442079460{n:03d}", "GB", "local", False, False, "London", "London")
            for n in range(100, 200)
        ]
    if country == "AU":
        if kind == "mobile":
            return [
                _Offer(f"+6149157{n:04d}", "AU", "mobile", True, False) for n in range(100, 160)
            ]
        return [
            _Offer(f"+6125550{n:04d}", "AU", "local", False, False, "Sydney", "NSW")
            for n in range(100, 200)
        ]
    return []


def offer_named(phone_number: str) -> _Offer | None:
    """The offer (bought or not) for this number, if the fake ever sells it."""
    country = country_of(phone_number)
    area = None
    if country in ("US", "CA"):
        area = int(phone_number[2:5])
    for kind in ("local", "mobile"):
        for offer in offers_for(country, kind, area) if country else []:
            if offer.phone_number == phone_number:
                return offer
    return None


def friendly_name(phone_number: str) -> str:
    if phone_number.startswith("+1") and len(phone_number) == 12:
        digits = phone_number[2:]
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return phone_number


class BackgroundServer:
    """An ASGI app served by uvicorn in a daemon thread, on a socket bound before it starts
    (port 0: a free one). Used for the fake and for the tests' webhook receivers."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"uvicorn-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"the server on {self.base_url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeTwilio:
    """Twilio's REST API on 127.0.0.1, in a background thread (a context manager)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        contract: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        account_name: str = "Message Center (fake Twilio)",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.account_name = account_name
        self._created_at = rfc2822(_now())
        self._hold_generation = 0  # bumped by release_held(): cuts short held answers
        self._contract = TwilioContract() if contract else None
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: BackgroundServer | None = None
        self._validator = RequestValidator(auth_token)
        self.app = Starlette(
            routes=[
                Route("/_fake/{action:str}", self._control, methods=["POST"]),
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the fake Twilio is already running")
        self._stopping.clear()
        self._server = BackgroundServer(self.app, host=self._host, port=self._port).start()
        self._port = self._server.port
        return self

    def stop(self) -> None:
        self._stopping.set()  # cut short any injected slow answer
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def reset(self) -> None:
        """Forget every message, number, opt-out, queued failure and recorded request, and
        answer at once any request an injected timeout is still holding back."""
        self.release_held()
        with self._lock:
            self._messages: dict[str, _Message] = {}
            self._numbers: dict[str, _Number] = {}
            self._faults: deque[_Fault] = deque()
            self._opted_out: set[tuple[str, str]] = set()
            self._requests: list[RecordedRequest] = []
            self._violations: list[str] = []
            self._seq = 0
            self._created = 0
            self._send_delay = 0.0
            self._creates_in_progress = 0
            self._holding_stored = 0
            self.account_status = "active"  # or "suspended" / "closed", as Twilio says
            # Where the list puts messages not sent yet (Twilio does not document it).
            self.unsent_listed: Literal["first", "last"] = "first"

    def release_held(self) -> None:
        """Answer now every request an injected timeout is holding back (queued faults and
        stored messages are kept)."""
        with self._lock:
            self._hold_generation += 1

    # ------------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def contract_violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    @property
    def messages(self) -> dict[str, dict[str, Any]]:
        """sid -> the message as Twilio shows it, plus the fake-only keys
        ``status_callback`` and ``media_urls``."""
        with self._lock:
            return {
                sid: {
                    **message.resource,
                    "status_callback": message.status_callback,
                    "media_urls": list(message.media_urls),
                }
                for sid, message in self._messages.items()
            }

    def create_requests(self) -> list[RecordedRequest]:
        """Every Messages create request received, in order, whatever was answered (or not:
        one whose sender died is still here)."""
        with self._lock:
            return [
                r
                for r in self._requests
                if r.method == "POST" and r.path.endswith("/Messages.json")
            ]

    def faults_pending(self) -> int:
        """Injected faults not yet taken by a Messages create."""
        with self._lock:
            return len(self._faults)

    def creates_in_progress(self) -> int:
        """Messages create requests received and not yet answered (held back or delayed)."""
        with self._lock:
            return self._creates_in_progress

    def holding_stored(self) -> int:
        """Create requests stored and now held back by an injected timeout: the caller is
        certainly in the middle of that carrier call, and created_count() already counts it."""
        with self._lock:
            return self._holding_stored

    def created_count(self) -> int:
        """How many outbound messages Twilio accepted (stored), whatever it answered."""
        with self._lock:
            return self._created

    def numbers(self) -> dict[str, dict[str, Any]]:
        """sid -> the IncomingPhoneNumber resource of every number bought and not released."""
        with self._lock:
            return {
                sid: dict(number.resource)
                for sid, number in self._numbers.items()
                if not number.released
            }

    def backdate(self, sid: str, by: timedelta) -> None:
        """Move the message's dates (created, sent, updated) `by` into the past: a message
        from earlier, without waiting."""
        with self._lock:
            resource = self._messages[sid].resource
            for key in ("date_created", "date_sent", "date_updated"):
                if resource.get(key):
                    resource[key] = rfc2822(parsedate_to_datetime(resource[key]) - by)

    # ------------------------------------------------------------------ failure injection
    def fail_next(
        self, code: int, status: int = 400, message: str | None = None, times: int = 1
    ) -> None:
        """The next `times` Messages creates answer this Twilio error without taking it."""
        self._queue(_Fault("error", status=status, code=code, message=message), times)

    def rate_limit_next(self, times: int = 1, *, retry_after: int = 1) -> None:
        """The next `times` Messages creates answer 429 / 20429 with a Retry-After header."""
        self._queue(_Fault("rate_limit", status=429, code=20429, retry_after=retry_after), times)

    def server_error_next(self, times: int = 1, accept: bool = False, *, status: int = 500) -> None:
        """The next `times` Messages creates answer 5xx / 20500; with accept=True the message
        is stored first (Twilio took it, then failed to say so)."""
        self._queue(_Fault("server_error", status=status, code=20500, accept=accept), times)

    def timeout_next(self, seconds: float, accept: bool = True, *, times: int = 1) -> None:
        """The next `times` Messages creates are answered only after `seconds`. With
        accept=True the message is stored first and the late answer is the normal 201; with
        accept=False nothing is stored and the late answer is 500 / 20500."""
        self._queue(_Fault("timeout", seconds=seconds, accept=accept), times)

    def delay_sends(self, seconds: float) -> None:
        """From now on every Messages create is stored at once and answered `seconds` later
        (a slow Twilio); 0 answers at once again."""
        with self._lock:
            self._send_delay = seconds

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    # ------------------------------------------------------------------ opt-out
    def opt_out(self, from_number: str, to_number: str) -> None:
        """`from_number` (a handset) has opted out of texts from `to_number` (our number)."""
        with self._lock:
            self._opted_out.add((from_number, to_number))

    def opt_in(self, from_number: str, to_number: str) -> None:
        with self._lock:
            self._opted_out.discard((from_number, to_number))

    def is_opted_out(self, from_number: str, to_number: str) -> bool:
        with self._lock:
            return (from_number, to_number) in self._opted_out

    # ------------------------------------------------------------------ webhooks (Twilio -> app)
    def send_status(self, sid: str, status: str, error_code: int | None = None) -> int:
        """Set the message's status and post Twilio's status callback to its StatusCallback
        URL, signed. Returns the HTTP status the app answered. Raises KeyError for an
        unknown sid and NotRouted (after updating the status) when it has no StatusCallback."""
        with self._lock:
            message = self._messages[sid]
            resource = message.resource
            now = rfc2822(_now())
            resource["status"] = status
            resource["date_updated"] = now
            if status in ("sent", "delivered", "undelivered", "read") and not resource.get(
                "date_sent"
            ):
                resource["date_sent"] = now
            if error_code is not None:
                resource["error_code"] = error_code
                resource["error_message"] = ERROR_MESSAGES.get(error_code)
            url = message.status_callback
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": self.account_sid,
                "From": resource.get("from") or "",
                "To": resource.get("to") or "",
                "ApiVersion": API_VERSION,
            }
            if resource.get("messaging_service_sid"):
                params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if not url:
            raise NotRouted(f"message {sid} has no StatusCallback: Twilio would post nothing")
        return self._post_webhook(url, "POST", params)

    def send_inbound(
        self,
        from_number: str,
        to_number: str,
        body: str,
        media_urls: list[str] | None = None,
    ) -> tuple[str, int]:
        """A handset texts one of our numbers: Twilio applies its STOP / START handling and
        posts the message to the number's SmsUrl, signed. Returns (MessageSid, HTTP status the
        app answered). Raises NotRouted when `to_number` is not a number this account holds
        (never bought, or released) or it has no SmsUrl: Twilio would post nothing."""
        media = list(media_urls or [])
        with self._lock:
            number = next(
                (
                    n
                    for n in self._numbers.values()
                    if n.resource["phone_number"] == to_number and not n.released
                ),
                None,
            )
            if number is None:
                raise NotRouted(f"{to_number} is not a number of this account")
            url = number.resource.get("sms_url") or ""
            method = (number.resource.get("sms_method") or "POST").upper()
            if not url:
                raise NotRouted(f"{to_number} has no SmsUrl")
            keyword = body.strip().upper()
            if keyword in STOP_WORDS:
                self._opted_out.add((from_number, to_number))
            elif keyword in START_WORDS:
                self._opted_out.discard((from_number, to_number))
            sid = new_sid("MM" if media else "SM")
            segments = count_segments(body)
            now = rfc2822(_now())
            self._seq += 1
            self._messages[sid] = _Message(
                self._message_resource(
                    sid,
                    to=to_number,
                    from_=from_number,
                    body=body,
                    status="received",
                    direction="inbound",
                    num_media=len(media),
                    num_segments=segments,
                    messaging_service_sid=None,
                    date_sent=now,
                ),
                self._seq,
                None,
                media,
            )
        params = {
            "ToCountry": country_of(to_number),
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": country_of(from_number),
            "To": to_number,
            "ToZip": "",
            "NumSegments": str(segments),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "ApiVersion": API_VERSION,
        }
        for index, media_url in enumerate(media):
            params[f"MediaUrl{index}"] = media_url
            suffix = re.search(r"\.[A-Za-z0-9]+$", urlsplit(media_url).path)
            params[f"MediaContentType{index}"] = MEDIA_TYPES.get(
                suffix.group(0).lower() if suffix else "", "application/octet-stream"
            )
        return sid, self._post_webhook(url, method, params)

    def _post_webhook(self, url: str, method: str, params: dict[str, str]) -> int:
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        if method == "GET":
            separator = "&" if urlsplit(url).query else "?"
            url = f"{url}{separator}{urlencode(params)}"
            headers["X-Twilio-Signature"] = self._validator.compute_signature(url, {})
            response = httpx.get(url, headers=headers, timeout=10)
        else:
            headers["X-Twilio-Signature"] = self._validator.compute_signature(url, params)
            response = httpx.post(url, data=params, headers=headers, timeout=10)
        return response.status_code

    # ------------------------------------------------------------------ HTTP
    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        raw_body = await request.body()
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        form: dict[str, list[str]] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            for key, value in parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True):
                form.setdefault(key, []).append(value)

        violation = None
        if self._contract is not None:
            try:
                self._contract.validate(
                    request.method, str(request.url), request.headers.items(), raw_body
                )
            except ContractViolation as exc:
                violation = str(exc)
                log.warning("Twilio contract violation: %s", violation)
        record = RecordedRequest(request.method, path, query, form, violation)
        with self._lock:
            self._requests.append(record)
            if violation:
                self._violations.append(violation)
        try:
            response = await self._answer(request, path, query, form, violation)
        except TwilioError as exc:
            response = exc.response()
        except Exception as exc:  # a bug in the fake: say so rather than look like Twilio
            log.exception("fake Twilio failed on %s %s", request.method, path)
            response = TwilioError(500, 20500, f"fake Twilio bug: {exc!r}").response()
        record.status = response.status_code
        return response

    async def _answer(
        self,
        request: Request,
        path: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        violation: str | None,
    ) -> Response:
        self._authenticate(request, path)
        handler, params = self._route(request.method, path)
        if violation:
            if handler == self._create_message:
                self._check_create(form)  # Twilio's own error where it has one
            raise TwilioError(400, 70002, f"Contract violation: {violation}")
        return await handler(params, query, form)

    def _authenticate(self, request: Request, path: str) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except ValueError:
            user = password = ""
        path_account = re.match(r"/2010-04-01/Accounts/([^/.]+)", path)
        if (
            scheme.lower() != "basic"
            or not secrets.compare_digest(user, self.account_sid)
            or not secrets.compare_digest(password, self.auth_token)
            or (path_account is not None and path_account.group(1) != self.account_sid)
        ):
            raise TwilioError(
                401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )

    def _route(self, method: str, path: str) -> tuple[_Handler, dict[str, str]]:
        account = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
        routes: list[tuple[str, dict[str, _Handler]]] = [
            (r"\.json", {"GET": self._fetch_account}),
            (r"/Messages\.json", {"GET": self._list_messages, "POST": self._create_message}),
            (r"/Messages/(?P<sid>[^/]+)\.json", {"GET": self._fetch_message}),
            (
                r"/AvailablePhoneNumbers/(?P<country>[^/]+)/(?P<kind>Local|Mobile)\.json",
                {"GET": self._available_numbers},
            ),
            (
                r"/IncomingPhoneNumbers\.json",
                {"GET": self._list_numbers, "POST": self._buy_number},
            ),
            (
                r"/IncomingPhoneNumbers/(?P<sid>[^/]+)\.json",
                {
                    "GET": self._fetch_number,
                    "POST": self._update_number,
                    "DELETE": self._release_number,
                },
            ),
        ]
        for pattern, handlers in routes:
            match = re.fullmatch(account + pattern, path)
            if match:
                if method not in handlers:
                    raise TwilioError(405, 20004)
                return handlers[method], match.groupdict()
        raise TwilioError(404, 20404, f"The requested resource {path} was not found")

    # ---- account
    async def _fetch_account(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        """The account itself (authentication already proved it is ours)."""
        sid = self.account_sid
        uri = f"/{API_VERSION}/Accounts/{sid}"
        subresources = {
            "messages": "Messages",
            "incoming_phone_numbers": "IncomingPhoneNumbers",
            "available_phone_numbers": "AvailablePhoneNumbers",
        }
        return JSONResponse(
            {
                "auth_token": self.auth_token,
                "date_created": self._created_at,
                "date_updated": self._created_at,
                "friendly_name": self.account_name,
                "owner_account_sid": sid,
                "sid": sid,
                "status": self.account_status,
                "subresource_uris": {
                    key: f"{uri}/{name}.json" for key, name in subresources.items()
                },
                "type": "Full",
                "uri": f"{uri}.json",
            }
        )

    # ---- messages
    def _check_create(self, form: dict[str, list[str]]) -> None:
        to = _first(form, "To")
        from_ = _first(form, "From")
        body = _first(form, "Body")
        if not to:
            raise TwilioError(400, 21604)
        if not from_ and not _first(form, "MessagingServiceSid"):
            raise TwilioError(400, 21603)
        if not body and not _values(form, "MediaUrl") and not _first(form, "ContentSid"):
            raise TwilioError(400, 21602)
        if not valid_number(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to == from_:
            raise TwilioError(400, 21266)
        if len(body) > MAX_BODY:
            raise TwilioError(400, 21617)
        with self._lock:
            if from_ and (to, from_) in self._opted_out:
                raise TwilioError(400, 21610)

    async def _create_message(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        with self._lock:
            self._creates_in_progress += 1
        try:
            return await self._create_message_now(form)
        finally:
            with self._lock:
                self._creates_in_progress -= 1

    async def _create_message_now(self, form: dict[str, list[str]]) -> Response:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            delay = self._send_delay
        if fault is not None and fault.kind == "error":
            raise TwilioError(fault.status, fault.code, fault.message)
        if fault is not None and fault.kind == "rate_limit":
            raise TwilioError(429, 20429, None, {"Retry-After": str(fault.retry_after)})
        if fault is not None and not fault.accept:
            if fault.kind == "timeout":
                await self._sleep(fault.seconds)
            raise TwilioError(fault.status if fault.kind == "server_error" else 500, 20500)

        self._check_create(form)
        resource = self._store_outbound(form)
        if fault is not None and fault.kind == "server_error":
            raise TwilioError(fault.status, 20500)
        if fault is not None and fault.kind == "timeout":
            with self._lock:
                self._holding_stored += 1
            try:
                await self._sleep(fault.seconds)
            finally:
                with self._lock:
                    self._holding_stored -= 1
        elif delay:
            await self._sleep(delay)
        return JSONResponse(resource, 201)

    def _store_outbound(self, form: dict[str, list[str]]) -> dict[str, Any]:
        media = _values(form, "MediaUrl")
        body = _first(form, "Body")
        service = _first(form, "MessagingServiceSid") or None
        from_ = _first(form, "From") or None
        sid = new_sid("MM" if media else "SM")
        resource = self._message_resource(
            sid,
            to=_first(form, "To"),
            from_=from_,
            body=body,
            status="queued" if from_ else "accepted",
            direction="outbound-api",
            num_media=len(media),
            num_segments=count_segments(body),
            messaging_service_sid=service,
            date_sent=None,
        )
        with self._lock:
            self._seq += 1
            self._created += 1
            self._messages[sid] = _Message(
                resource, self._seq, _first(form, "StatusCallback") or None, media
            )
            return dict(resource)

    def _message_resource(
        self,
        sid: str,
        *,
        to: str,
        from_: str | None,
        body: str,
        status: str,
        direction: str,
        num_media: int,
        num_segments: int,
        messaging_service_sid: str | None,
        date_sent: str | None,
    ) -> dict[str, Any]:
        now = rfc2822(_now())
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": date_sent,
            "date_updated": now,
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": messaging_service_sid,
            "num_media": str(num_media),
            "num_segments": str(num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": to,
            "uri": uri,
        }

    async def _fetch_message(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        with self._lock:
            message = self._messages.get(params["sid"])
            if message is None:
                raise _not_found(
                    f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{params['sid']}.json"
                )
            return JSONResponse(dict(message.resource))

    def _listing_order(self) -> list[_Message]:
        """Twilio documents the list as sorted by DateSent, newest first; where the messages
        not sent yet (no date_sent) go is undocumented: first here, or last with
        ``unsent_listed = "last"``. Within a second (or among the unsent), newest first."""
        unsent = [m for m in self._messages.values() if not m.resource.get("date_sent")]
        sent = [m for m in self._messages.values() if m.resource.get("date_sent")]
        unsent.sort(key=lambda m: m.seq, reverse=True)
        sent.sort(key=lambda m: (parsedate_to_datetime(m.resource["date_sent"]), m.seq))
        sent.reverse()
        return unsent + sent if self.unsent_listed == "first" else sent + unsent

    async def _list_messages(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        """By DateSent, newest first (see _listing_order), filtered as Twilio filters: To,
        From, and DateSent (on the day, ``<``
        on or before it, ``>`` on or after it). A message not yet sent has no date_sent, so
        any DateSent filter leaves it out."""
        to, from_ = _first(query, "To"), _first(query, "From")
        sent_filters = [
            (name, _date_filter(name, _first(query, name)))
            for name in ("DateSent", "DateSent<", "DateSent>")
            if _first(query, name)
        ]
        with self._lock:
            found = [
                dict(m.resource)
                for m in self._listing_order()
                if (not to or m.resource["to"] == to)
                and (not from_ or m.resource["from"] == from_)
                and all(_sent_matches(m.resource, name, bound) for name, bound in sent_filters)
            ]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        filters = [("To", to), ("From", from_)]
        filters += [(name, _first(query, name)) for name, _ in sent_filters]
        return JSONResponse(_page("messages", found, path, query, filters))

    # ---- numbers
    async def _available_numbers(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        country, kind = params["country"].upper(), params["kind"]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/AvailablePhoneNumbers/"
        path += f"{params['country']}/{kind}.json"
        if country not in ("US", "CA", "GB", "AU") or (
            kind == "Mobile" and country in ("US", "CA")
        ):
            raise _not_found(path)
        area_code = _first(query, "AreaCode")
        area = int(area_code) if area_code.isdigit() and country in ("US", "CA") else None
        offers = offers_for(country, "mobile" if kind == "Mobile" else "local", area)
        wanted = {
            "sms": _flag(query, "SmsEnabled"),
            "mms": _flag(query, "MmsEnabled"),
            "voice": _flag(query, "VoiceEnabled"),
        }
        contains = _first(query, "Contains").replace("*", "")
        size = int(_first(query, "PageSize") or 50)
        with self._lock:
            taken = {n.resource["phone_number"] for n in self._numbers.values()}
        found = []
        for offer in offers:
            capabilities = {"sms": offer.sms, "mms": offer.mms, "voice": True}
            if offer.phone_number in taken or contains not in offer.phone_number:
                continue
            if any(
                value is not None and capabilities[key] != value for key, value in wanted.items()
            ):
                continue
            found.append(_available_resource(offer))
            if len(found) >= size:
                break
        page = {
            "available_phone_numbers": found,
            "end": max(len(found) - 1, 0),
            "first_page_uri": path + _query_string(query),
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": path + _query_string(query),
        }
        return JSONResponse(page)

    async def _buy_number(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        phone_number = _first(form, "PhoneNumber")
        area_code = _first(form, "AreaCode")
        with self._lock:
            taken = {n.resource["phone_number"] for n in self._numbers.values()}
            offer: _Offer | None = None
            if phone_number:
                offer = offer_named(phone_number)
            elif area_code.isdigit():
                offer = next(
                    (
                        o
                        for country in ("US", "CA")
                        for o in offers_for(country, "local", int(area_code))
                        if o.phone_number not in taken
                    ),
                    None,
                )
            if offer is None or offer.phone_number in taken:
                raise TwilioError(
                    400, 21452, f"Number {phone_number or area_code} is not available"
                )
            sid = new_sid("PN")
            now = rfc2822(_now())
            resource = {
                "account_sid": self.account_sid,
                "address_requirements": "none",
                "address_sid": None,
                "api_version": API_VERSION,
                "beta": False,
                "bundle_sid": None,
                "capabilities": {
                    "voice": True,
                    "sms": offer.sms,
                    "mms": offer.mms,
                    "fax": False,
                },
                "date_created": now,
                "date_updated": now,
                "emergency_address_sid": None,
                "emergency_address_status": "unregistered",
                "emergency_status": "Inactive",
                "friendly_name": _first(form, "FriendlyName") or friendly_name(offer.phone_number),
                "identity_sid": None,
                "origin": "twilio",
                "phone_number": offer.phone_number,
                "sid": sid,
                "sms_application_sid": None,
                "sms_fallback_method": "POST",
                "sms_fallback_url": "",
                "sms_method": "POST",
                "sms_url": "",
                "status": "in-use",
                "status_callback": "",
                "status_callback_method": "POST",
                "subresource_uris": {
                    "assigned_add_ons": f"/{API_VERSION}/Accounts/{self.account_sid}"
                    f"/IncomingPhoneNumbers/{sid}/AssignedAddOns.json"
                },
                "trunk_sid": None,
                "type": offer.kind,
                "uri": f"{self._numbers_path()}/{sid}.json",
                "voice_application_sid": None,
                "voice_caller_id_lookup": False,
                "voice_fallback_method": "POST",
                "voice_fallback_url": None,
                "voice_method": "POST",
                "voice_receive_mode": "voice",
                "voice_url": None,
            }
            _apply_number_form(resource, form)
            self._numbers[sid] = _Number(offer, resource)
            return JSONResponse(dict(resource), 201)

    def _numbers_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers"

    def _owned(self, sid: str) -> _Number:
        number = self._numbers.get(sid)
        if number is None or number.released:
            raise _not_found(
                f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json"
            )
        return number

    async def _fetch_number(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        with self._lock:
            return JSONResponse(dict(self._owned(params["sid"]).resource))

    async def _update_number(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        with self._lock:
            number = self._owned(params["sid"])
            _apply_number_form(number.resource, form)
            number.resource["date_updated"] = rfc2822(_now())
            return JSONResponse(dict(number.resource))

    async def _release_number(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        with self._lock:
            self._owned(params["sid"]).released = True
        return Response(status_code=204)

    async def _list_numbers(
        self, params: dict[str, str], query: dict[str, list[str]], form: dict[str, list[str]]
    ) -> Response:
        phone_number = _first(query, "PhoneNumber")
        with self._lock:
            found = [
                dict(n.resource)
                for n in self._numbers.values()
                if not n.released
                and (not phone_number or n.resource["phone_number"] == phone_number)
            ]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        return JSONResponse(
            _page("incoming_phone_numbers", found, path, query, [("PhoneNumber", phone_number)])
        )

    async def _sleep(self, seconds: float) -> None:
        """Hold an answer back; cut short by stop() or reset()."""
        with self._lock:
            generation = self._hold_generation
        deadline = time.monotonic() + seconds
        while (
            time.monotonic() < deadline
            and not self._stopping.is_set()
            and self._hold_generation == generation
        ):
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    # ---- by-hand control
    async def _control(self, request: Request) -> Response:
        try:
            self._authenticate(request, "")
        except TwilioError as exc:
            return exc.response()
        form: dict[str, list[str]] = {}
        for key, value in parse_qsl((await request.body()).decode("utf-8")):
            form.setdefault(key, []).append(value)
        action = request.path_params["action"]
        try:
            if action == "inbound":
                sid, answered = await asyncio.to_thread(
                    self.send_inbound,
                    _first(form, "From"),
                    _first(form, "To"),
                    _first(form, "Body"),
                    _values(form, "MediaUrl"),
                )
                return JSONResponse({"sid": sid, "app_status": answered})
            if action == "status":
                error_code = _first(form, "ErrorCode")
                answered = await asyncio.to_thread(
                    self.send_status,
                    _first(form, "MessageSid"),
                    _first(form, "MessageStatus"),
                    int(error_code) if error_code else None,
                )
                return JSONResponse({"app_status": answered})
        except (LookupError, httpx.HTTPError) as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse({"error": f"unknown action {action}"}, 404)


def _first(values: dict[str, list[str]], key: str) -> str:
    found = values.get(key)
    return found[0] if found else ""


def _values(values: dict[str, list[str]], key: str) -> list[str]:
    return [value for value in values.get(key, []) if value]


def _date_filter(name: str, value: str) -> date:
    """A DateSent filter's value, a GMT day: YYYY-MM-DD as Twilio documents it, or the day of
    the ISO 8601 date-time the `twilio` package sends for a datetime."""
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid {name}: {value!r}") from None


def _sent_matches(resource: dict[str, Any], name: str, day: date) -> bool:
    if not resource.get("date_sent"):
        return False  # not sent (yet): Twilio's DateSent filters never match it
    sent = parsedate_to_datetime(resource["date_sent"]).astimezone(UTC).date()
    if name == "DateSent<":
        return sent <= day
    if name == "DateSent>":
        return sent >= day
    return sent == day


def _flag(query: dict[str, list[str]], key: str) -> bool | None:
    value = _first(query, key).lower()
    return None if not value else value == "true"


def _not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def _query_string(query: dict[str, list[str]]) -> str:
    pairs = [(key, value) for key, values in query.items() for value in values]
    return "?" + urlencode(pairs) if pairs else ""


def _page(
    key: str,
    items: list[dict[str, Any]],
    path: str,
    query: dict[str, list[str]],
    filters: list[tuple[str, str]],
) -> dict[str, Any]:
    size = int(_first(query, "PageSize") or 50)
    page = int(_first(query, "Page") or 0)
    start = page * size
    chunk = items[start : start + size]

    def uri(number: int) -> str:
        pairs = [(name, value) for name, value in filters if value]
        pairs += [("PageSize", str(size)), ("Page", str(number))]
        return f"{path}?{urlencode(pairs)}"

    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + size < len(items) else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": path + _query_string(query),
    }


def _available_resource(offer: _Offer) -> dict[str, Any]:
    return {
        "friendly_name": friendly_name(offer.phone_number),
        "phone_number": offer.phone_number,
        "lata": offer.lata,
        "locality": offer.locality,
        "rate_center": offer.rate_center,
        "latitude": offer.latitude,
        "longitude": offer.longitude,
        "region": offer.region,
        "postal_code": offer.postal_code,
        "iso_country": offer.iso_country,
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "SMS": offer.sms, "MMS": offer.mms, "fax": False},
    }


NUMBER_FIELDS = {
    "FriendlyName": "friendly_name",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
}


def _apply_number_form(resource: dict[str, Any], form: dict[str, list[str]]) -> None:
    for name, key in NUMBER_FIELDS.items():
        if name in form:
            resource[key] = _first(form, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Twilio REST API until Ctrl+C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="fake-twilio-auth-token")
    parser.add_argument(
        "--no-contract", action="store_true", help="do not check requests against the spec"
    )
    parser.add_argument(
        "--send-delay-ms", type=int, default=0, help="answer each Messages create this late"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        contract=not args.no_contract,
        host=args.host,
        port=args.port,
    )
    fake.delay_sends(args.send_delay_ms / 1000)
    try:  # around the print too: a Ctrl+C right after it must still end cleanly
        with fake:
            print(fake.base_url, flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
