"""The `twilio` package's HTTP-client hook, pointed at MESSAGECENTER_TWILIO_API_URL.

Twilio's SDK builds absolute https://api.twilio.com URLs; this client swaps that base for the
configured one (a local fake in tests) and remembers the last Retry-After it was given, which
the SDK's exceptions do not carry. Nothing is monkeypatched.
"""

from __future__ import annotations

import threading
from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from messagecenter.config import TWILIO_API_URL


class ConfiguredHttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped SDK
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        connections: int = 10,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("Twilio timeouts must be positive")
        # requests takes (connect, read) timeouts and the SDK passes self.timeout through, but
        # the SDK's constructor only accepts a number (it checks `timeout <= 0`): set it after.
        super().__init__()
        self.timeout = (connect_timeout, read_timeout)
        self._base_url = base_url.rstrip("/")
        self._local = threading.local()
        # One kept-alive connection per carrier call in flight (the dispatcher's concurrency;
        # requests keeps 10 a host by default and drops the rest after each call).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(10, connections))
        for scheme in ("https://", "http://"):
            self.session.mount(scheme, adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API_URL):
            url = self._base_url + url[len(TWILIO_API_URL) :]
        self._local.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        retry_after = (response.headers or {}).get("Retry-After")
        self._local.retry_after = _seconds(retry_after)
        return response

    @property
    def last_retry_after(self) -> float | None:
        value: float | None = getattr(self._local, "retry_after", None)
        return value


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
