"""The Twilio carrier, through the real `twilio` package.

Each failure is classified by what it proves about the message: 429 / 20429 / 21611 and a
connection that never reached Twilio mean it certainly was not taken (retry later); another
4xx means Twilio refused it (never sent); a timeout, a 5xx or a connection broken mid-request
may have been taken, so it is settled by our id, never by sending again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import requests
import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from messagecenter.carriers.base import (
    AvailableNumber,
    CarrierAccepted,
    CarrierAmbiguous,
    CarrierError,
    CarrierRejected,
    CarrierRetryLater,
    OutboundSms,
)
from messagecenter.carriers.twilio.errors import explain, explain_optional
from messagecenter.carriers.twilio.http import ConfiguredHttpClient
from messagecenter.carriers.twilio.statuses import our_status
from messagecenter.config import Settings

log = logging.getLogger(__name__)

# Our webhooks (carriers/twilio/endpoints.py): Twilio calls them with signed forms.
WEBHOOK_PREFIX = "/webhooks/twilio"
SMS_PATH = WEBHOOK_PREFIX + "/sms"
STATUS_PATH = WEBHOOK_PREFIX + "/status"
RETRY_LATER_CODES = frozenset({20429, 21611})  # too many requests; the queue is full
CREDENTIAL_CODES = frozenset({20003, 20005, 20008})  # our account's problem, not the message's
# Number types by country: landlines cannot text in the UK and Australia.
MOBILE_COUNTRIES = frozenset({"GB", "AU"})
# Twilio's date_created is whole seconds from Twilio's clock, not ours.
FIND_CLOCK_SKEW = timedelta(minutes=2)
FIND_PAGE_SIZE = 100
FIND_MAX_SCAN = 1000  # more between one pair of numbers: too many to read for each lookup
# Twilio's ValidityPeriod bounds, in seconds (its default, the maximum, is 10 hours).
VALIDITY_PERIOD_MIN = 1
VALIDITY_PERIOD_MAX = 36000


class TwilioCarrier:
    name = "twilio"

    def __init__(
        self,
        settings: Settings,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
    ) -> None:
        if not settings.twilio_account_sid or not settings.twilio_auth_token:
            raise CarrierError(
                "MESSAGECENTER_CARRIER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
            )
        self._http = ConfiguredHttpClient(
            settings.twilio_api_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            connections=settings.dispatch_concurrency,
        )
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=self._http
        )
        self._validity_period = validity_period(settings)

    # -- messages
    def send(self, sms: OutboundSms) -> CarrierAccepted:
        options: dict[str, object] = {
            "to": sms.to_phone,
            "from_": sms.from_phone,
            "validity_period": self._validity_period,
        }
        if sms.body:
            options["body"] = sms.body
        if sms.media_urls:
            options["media_url"] = list(sms.media_urls)
        if sms.status_callback_url:
            options["status_callback"] = sms.status_callback_url
        try:
            created = self._client.messages.create(**options)
        except TwilioRestException as exc:
            raise self._classify(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_transport(exc) from exc
        return CarrierAccepted(str(created.sid), our_status(str(created.status or "queued")))

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        """Messages Twilio holds that may be this one, closest to `attempted_at` first.

        Twilio's Message resource does not return the StatusCallback URL, so our id cannot be
        matched there; its List API filters on To, From and DateSent only. DateSent cannot
        bound the search: a message Twilio took but has not sent yet (queued, accepted,
        scheduled, or failed before sending) has no date_sent and would be filtered out. So
        every message between the two numbers is read, and matched on what we sent (outbound,
        the body) and on being created no earlier than our call (less clock skew). The list
        is sorted by DateSent, but where unsent messages go in it is not documented: a sent
        message older than our call proves nothing about the rest, so the walk never stops
        there; it reads at most FIND_MAX_SCAN messages and says it cannot tell beyond.
        """
        since = attempted_at - FIND_CLOCK_SKEW
        found: list[tuple[timedelta, CarrierAccepted]] = []
        try:
            messages = self._client.messages.stream(
                to=sms.to_phone,
                from_=sms.from_phone,
                limit=FIND_MAX_SCAN + 1,
                page_size=FIND_PAGE_SIZE,
            )
            for seen, message in enumerate(messages):
                if seen >= FIND_MAX_SCAN:
                    raise CarrierError(
                        f"More than {FIND_MAX_SCAN} messages from {sms.from_phone} to "
                        f"{sms.to_phone} at Twilio: cannot tell which is ours"
                    )
                created = message.date_created
                if created is None or created < since or not _same_content(message, sms):
                    continue
                distance = abs(created - attempted_at)
                accepted = CarrierAccepted(str(message.sid), our_status(str(message.status)))
                found.append((distance, accepted))
        except TwilioRestException as exc:
            raise self._classify(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise CarrierRetryLater(f"Twilio could not be asked: {exc}") from exc
        found.sort(key=lambda pair: pair[0])
        return [accepted for _, accepted in found]

    def check_credentials(self) -> str:
        """The account's friendly name; raises CarrierError when the credentials fail or the
        account cannot send (suspended or closed)."""
        try:
            account = self._client.api.v2010.accounts(self._client.username).fetch()
        except TwilioRestException as exc:
            raise CarrierError(f"Twilio refused the credentials: {exc.msg}", code=exc.code) from exc
        except requests.exceptions.RequestException as exc:
            raise CarrierError(f"Twilio could not be reached: {exc}") from exc
        status = str(account.status or "active")
        if status != "active":
            raise CarrierError(
                f"The credentials work, but Twilio account {account.friendly_name} is {status}: "
                "it cannot send messages until Twilio reactivates it."
            )
        return str(account.friendly_name)

    # -- numbers
    def suggest_numbers(self, country: str, near: str | None, limit: int) -> list[AvailableNumber]:
        available = self._client.available_phone_numbers(country.upper())
        try:
            if country.upper() in MOBILE_COUNTRIES:
                found = available.mobile.list(sms_enabled=True, limit=limit)
            else:
                area = _area_code(near)
                found = available.local.list(sms_enabled=True, area_code=area, limit=limit)
                if not found and area is not None:  # none left in that area code
                    found = available.local.list(sms_enabled=True, limit=limit)
        except TwilioRestException as exc:
            raise self._classify(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise CarrierRetryLater(f"Twilio could not be reached: {exc}") from exc
        return [AvailableNumber(str(n.phone_number), country.upper(), n.locality) for n in found]

    def acquire_number(self, phone_number: str, sms_webhook_url: str) -> str:
        try:
            bought = self._client.incoming_phone_numbers.create(
                phone_number=phone_number, sms_url=sms_webhook_url, sms_method="POST"
            )
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500 or exc.status in (401, 403):
                raise self._classify(exc) from exc
            raise CarrierRejected(
                f"Twilio could not provide {phone_number}: {exc.msg}",
                failure=explain_optional(exc.code),
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_transport(exc) from exc
        return str(bought.sid)

    def release_number(self, carrier_sid: str) -> None:
        try:
            self._client.incoming_phone_numbers(carrier_sid).delete()
        except TwilioRestException as exc:
            if exc.status == 404:  # already released
                return
            raise CarrierError(
                f"Twilio could not release the number: {exc.msg}", code=exc.code
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_transport(exc) from exc

    def tick(self) -> None:
        return None  # Twilio calls us back; nothing to do on a timer

    def sms_webhook_url(self, public_url: str) -> str:
        return public_url.rstrip("/") + SMS_PATH

    def status_callback_url(self, public_url: str, message_id: int) -> str:
        return f"{public_url.rstrip('/')}{STATUS_PATH}?message={message_id}"

    def _classify(self, exc: TwilioRestException) -> CarrierError:
        code = exc.code
        message = str(exc.msg or exc)
        if exc.status == 429 or code in RETRY_LATER_CODES:
            return CarrierRetryLater(
                message, failure=explain(code or 20429), retry_after=self._http.last_retry_after
            )
        failure = explain_optional(code)
        if exc.status in (401, 403) or code in CREDENTIAL_CODES:
            log.error("Twilio refused our credentials (%s): sends wait until they are fixed", code)
            return CarrierRetryLater(message, failure=failure)
        if exc.status >= 500:
            return CarrierAmbiguous(message, failure=failure)
        return CarrierRejected(message, failure=failure)


def validity_period(settings: Settings) -> int:
    """How long Twilio may keep one of our messages queued before dropping it unsent.

    A message we cannot confirm is given up (units back, "never confirmed") after
    give_up_after; left to Twilio's default (10 hours) it could still go out after that.
    Twilio counts from when it took the request (within the call, before our first lookup),
    so the period ends one settle wait before we give up: by the last lookup Twilio has sent
    the message or dropped it. Settings refuses waits less than 1 s apart (Twilio's minimum).
    """
    seconds = int(settings.give_up_after_seconds - settings.settle_after_seconds)
    return max(VALIDITY_PERIOD_MIN, min(seconds, VALIDITY_PERIOD_MAX))


def _classify_transport(exc: requests.exceptions.RequestException) -> CarrierError:
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_connected(exc):
        return CarrierRetryLater(f"Twilio could not be reached: {exc}")
    return CarrierAmbiguous(f"No clear answer from Twilio: {exc}")


def _never_connected(exc: requests.exceptions.RequestException) -> bool:
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _same_content(message: Any, sms: OutboundSms) -> bool:
    """An outbound message with the body we handed over (Twilio keeps it as sent, smart
    encoding being off; num_media is not compared, as Twilio may count media only later)."""
    return str(message.direction or "").startswith("outbound") and (message.body or "") == sms.body


def _area_code(phone: str | None) -> int | None:
    if phone and phone.startswith("+1") and len(phone) == 12:
        return int(phone[2:5])
    return None
