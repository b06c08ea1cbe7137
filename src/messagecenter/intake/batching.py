"""Natural batching (group commit) for the inbound texts' writes.

Requests hand their item to one database thread and wait (an async route with `submit`, a
plain thread, such as a sync route's, with `submit_blocking`). The thread takes everything that
has queued up since its last transaction and writes it in one transaction, then answers each
waiting request. Nothing waits on a timer: when traffic is light every batch holds one item,
and under load the cost of a transaction, its commit and the thread hand-offs are shared by
the whole batch. A request is only answered after the commit that holds its item.

The thread stays for LINGER_SECONDS after its last batch, waiting for the next item, and
ends only after a quiet spell that long. Ending as soon as nothing was pending, it ended after
nearly every batch under a steady load (the waiting requests are answered before they can
send more), and a thread started per batch held the webhook alone (PostgreSQL, concurrency
16) to about 1,120 requests a second against about 1,310 with it kept.

A writer that awaits its database on the event loop (an async driver) needs no thread:
`LoopBatcher` is the same group commit with the items waiting on the loop itself, for the
webhook's queue insert on PostgreSQL (intake/queue.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeAlias, TypeVar

log = logging.getLogger(__name__)

LINGER_SECONDS = 1.0  # how long the batch thread waits for more work before it ends

Item = TypeVar("Item")
Result = TypeVar("Result")
Outcome = TypeVar("Outcome")

# Who waits for an item: a request on an event loop (its future and loop), or a plain thread.
_Waiter: TypeAlias = (
    "tuple[asyncio.Future[Result], asyncio.AbstractEventLoop] | concurrent.futures.Future[Result]"
)


class Batcher(Generic[Item, Result]):
    """Runs `handle` on one thread over batches of at most `max_batch` submitted items.

    `handle` gets a list of items and returns one outcome per item, in order: a result, or an
    exception for that item alone (it is raised in the request that submitted it)."""

    def __init__(
        self,
        handle: Callable[[Sequence[Item]], Sequence[Result | BaseException]],
        *,
        max_batch: int,
        name: str,
    ) -> None:
        self._handle = handle
        self._max_batch = max_batch
        self._name = name
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # new items, or close()
        self._closing = False
        self._pending: list[tuple[Item, _Waiter[Result]]] = []
        # The thread writing batches, while there are any to write or were lately; a new one
        # starts when work arrives after a quiet spell of LINGER_SECONDS.
        self._thread: threading.Thread | None = None

    async def submit(self, item: Item) -> Result:
        """Wait until `item` has been handled (and committed); its result, or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._enqueue(item, (future, loop))
        # A client that hangs up cancels only its wait; the write goes ahead with its batch.
        return await future

    def submit_blocking(self, item: Item) -> Result:
        """`submit` for a plain thread (never the batch thread itself): blocks until `item`
        has been handled (and committed); its result, or its exception."""
        future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        self._enqueue(item, future)
        return future.result()

    def _enqueue(self, item: Item, waiter: _Waiter[Result]) -> None:
        with self._lock:
            self._pending.append((item, waiter))
            if self._thread is None:
                thread = threading.Thread(target=self._drain, name=self._name, daemon=True)
                try:
                    thread.start()
                except BaseException:  # no thread to be had: refuse this item, keep no state
                    self._pending.pop()
                    raise
                self._thread = thread
            else:
                self._work.notify()  # a no-op unless the thread is waiting for work

    def close(self) -> None:
        """Wait until what was submitted has been handled."""
        with self._lock:
            thread = self._thread
            self._closing = True  # the thread leaves once nothing is pending
            self._work.notify()
        if thread is not None:
            thread.join()
        with self._lock:
            self._closing = False

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._pending and not self._closing:
                        self._work.wait(LINGER_SECONDS)
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                    if not batch:
                        self._thread = None
                        return
                self._write(batch)
        except BaseException:
            # Not the handler (its errors go to the requests): a bug here. The next submit
            # starts a new thread, which takes what is still pending.
            log.exception("the %s batch thread stopped", self._name)
            with self._lock:
                self._thread = None

    def _write(self, batch: list[tuple[Item, _Waiter[Result]]]) -> None:
        try:
            outcomes = _one_each(self._handle([b[0] for b in batch]), len(batch))
        except Exception as exc:  # every waiting request must hear of it
            outcomes = [exc] * len(batch)
        except BaseException as exc:  # SystemExit and the like must not reach an event loop
            outcomes = [RuntimeError(f"the batch handler stopped: {exc!r}")] * len(batch)
        by_loop: dict[
            asyncio.AbstractEventLoop,
            list[tuple[asyncio.Future[Result], Result | BaseException]],
        ] = {}
        for (_item, waiter), outcome in zip(batch, outcomes, strict=True):
            if isinstance(waiter, concurrent.futures.Future):
                _answer_thread(waiter, outcome)
            else:
                future, loop = waiter
                by_loop.setdefault(loop, []).append((future, outcome))
        for loop, answers in by_loop.items():
            # RuntimeError: that event loop has closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_answer, answers)


class LoopBatcher(Generic[Item, Result]):
    """Group commit on one event loop: `submit` waits while a task writes what has queued up
    since its last batch (at most `max_batch` at a time) with the awaitable `handle`, which
    returns each item's result or exception, in order. When nothing is being written an item
    starts a batch at once; while a batch is in flight the next one gathers. A request is
    only answered after the commit that holds its item. Bound to the loop of its first
    `submit`: a process's server runs one."""

    def __init__(
        self,
        handle: Callable[[Sequence[Item]], Awaitable[Sequence[Result | BaseException]]],
        *,
        max_batch: int,
    ) -> None:
        self._handle = handle
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Wait until `item` has been handled (and committed); its result, or its exception."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        # done(): a writer cancelled before it ran (its loop ended) never reached its finally.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        # A client that hangs up cancels only its wait; the write goes ahead with its batch.
        return await future

    async def close(self) -> None:
        """Wait until what was submitted has been handled."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes = _one_each(await self._handle([i for i, _ in batch]), len(batch))
                except Exception as exc:  # every waiting request must hear of it
                    outcomes = [exc] * len(batch)
                except BaseException:  # cancelled (the loop is ending): so are the waiters
                    for _, future in [*batch, *self._pending]:
                        future.cancel()
                    self._pending.clear()
                    raise
                _answer(list(zip((future for _, future in batch), outcomes, strict=True)))
        finally:
            self._writer = None


def _one_each(
    outcomes: Sequence[Result | BaseException], items: int
) -> Sequence[Result | BaseException]:
    """A handler's outcomes, checked to be one for each item of its batch."""
    if len(outcomes) != items:
        raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {items}")
    return outcomes


def _answer(answers: list[tuple[asyncio.Future[Result], Result | BaseException]]) -> None:
    for future, outcome in answers:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _answer_thread(
    future: concurrent.futures.Future[Result], outcome: Result | BaseException
) -> None:
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def each_alone_if_the_batch_fails(
    items: Sequence[Item],
    write: Callable[[Sequence[Item]], Sequence[Outcome]],
    name: Callable[[Item], str],
) -> list[Outcome | Exception]:
    """`write` the items in one unit of work; if that fails, each alone, so an item that
    cannot be stored fails only its own request (which the carrier then retries)."""
    if len(items) > 1:
        try:
            return list(write(items))
        except Exception:
            log.warning("a batch of %d failed; writing each alone", len(items), exc_info=True)
    outcomes: list[Outcome | Exception] = []
    for item in items:
        try:
            outcomes.append(write([item])[0])
        except Exception as exc:
            log.exception("%s could not be stored", name(item))
            outcomes.append(exc)
    return outcomes


async def each_alone_if_the_batch_fails_in_loop(
    items: Sequence[Item],
    write: Callable[[Sequence[Item]], Awaitable[Sequence[Outcome]]],
    name: Callable[[Item], str],
) -> list[Outcome | Exception]:
    """`each_alone_if_the_batch_fails` for a `write` that awaits its database."""
    if len(items) > 1:
        try:
            return list(await write(items))
        except Exception:
            log.warning("a batch of %d failed; writing each alone", len(items), exc_info=True)
    outcomes: list[Outcome | Exception] = []
    for item in items:
        try:
            outcomes.append((await write([item]))[0])
        except Exception as exc:
            log.exception("%s could not be stored", name(item))
            outcomes.append(exc)
    return outcomes
