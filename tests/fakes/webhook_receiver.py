"""A business's webhook endpoint for tests: a real HTTP server on loopback that records every
delivery and answers as the test scripts it (fail n times, then succeed; hold a request open
until released), with waits on conditions instead of sleeps."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what it was answered (0: never answered, the connection dropped)


@dataclass
class _Script:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then `default`
    default: int = 204
    hold_next: int = 0  # hold this many coming requests open until release()


class WebhookReceiver:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: serve https with this server context (url then names "https")."""
        self.received: list[Received] = []
        self._script = _Script()
        self._changed = threading.Condition()
        self._released = threading.Event()
        self.holding = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer_for(self.path, headers, body)
                if status == 0:
                    self.close_connection = True
                    return  # released without an answer: the connection is closed
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._tls = tls is not None
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host!s}:{port}/hooks"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------------- scripting

    def answer(self, *statuses: int, then: int = 204) -> None:
        """Answer the next requests with `statuses`, in turn, then always `then`."""
        with self._changed:
            self._script = _Script(list(statuses), then, self._script.hold_next)

    def hold_next(self, count: int = 1) -> None:
        """Keep the next `count` requests open, unanswered, until release()."""
        with self._changed:
            self._released.clear()
            self._script.hold_next = count

    def release(self) -> None:
        self._released.set()

    def _answer_for(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._changed:
            hold = self._script.hold_next > 0
            if hold:
                self._script.hold_next -= 1
                self.holding += 1
                self._changed.notify_all()
        if hold:
            self._released.wait()
            with self._changed:
                self.holding -= 1
                self.received.append(Received(path, headers, body, 0))
                self._changed.notify_all()
            return 0
        with self._changed:
            status = self._script.statuses.pop(0) if self._script.statuses else self._script.default
            self.received.append(Received(path, headers, body, status))
            self._changed.notify_all()
        return status

    # ----------------------------------------------------------------------------- waits

    def wait_until(self, what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting until {what}")
                self._changed.wait(left)

    def wait_holding(self, count: int = 1, timeout: float = 30) -> None:
        self.wait_until(f"{count} request(s) were held", lambda: self.holding >= count, timeout)
