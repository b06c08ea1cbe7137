"""Natural batching: what arrives while a batch is being written goes in the next one, and
each request hears only its own result."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from messagecenter.intake import batching
from messagecenter.intake.batching import Batcher, LoopBatcher

WAIT_SECONDS = 10  # reached only when the test fails


class Recorder:
    """A batch handler that doubles numbers, fails on the ones it is told to, and can hold its
    first batch until released."""

    def __init__(self, fail_on: frozenset[int] = frozenset(), hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.started.set()
        assert self.release.wait(5)
        return [ValueError(f"bad {i}") if i in self.fail_on else i * 2 for i in items]


async def _first_then_the_rest(
    batcher: Batcher[int, int], handler: Recorder, items: list[int]
) -> list[int | BaseException]:
    """Submit the first item; while the handler holds its batch, submit the rest; release."""
    first = asyncio.ensure_future(batcher.submit(items[0]))
    await asyncio.to_thread(handler.started.wait, 5)
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in items[1:]]
    await asyncio.sleep(0.05)  # all of them are waiting behind the first batch
    handler.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_items_that_arrive_during_a_batch_share_the_next_batch() -> None:
    handler = Recorder(hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")

    results = asyncio.run(_first_then_the_rest(batcher, handler, list(range(6))))
    assert results == [0, 2, 4, 6, 8, 10]
    assert handler.batches == [[0], [1, 2, 3, 4, 5]]
    batcher.close()


def test_a_batch_holds_at_most_max_batch_items() -> None:
    handler = Recorder(hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=3, name="test")

    results = asyncio.run(_first_then_the_rest(batcher, handler, list(range(8))))
    assert results == [i * 2 for i in range(8)]
    assert handler.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]
    batcher.close()


def test_an_item_that_fails_fails_only_its_own_request() -> None:
    handler = Recorder(fail_on=frozenset({3}), hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")

    results = asyncio.run(_first_then_the_rest(batcher, handler, list(range(5))))
    assert results[:3] == [0, 2, 4] and results[4] == 8
    assert isinstance(results[3], ValueError) and str(results[3]) == "bad 3"
    assert handler.batches == [[0], [1, 2, 3, 4]]  # 3 was in a batch with the others
    batcher.close()


def test_a_handler_that_breaks_fails_its_batch_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    def handler(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("database unreachable")
        return list(items)

    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")
    with pytest.raises(RuntimeError, match="database unreachable"):
        asyncio.run(batcher.submit(1))
    assert asyncio.run(batcher.submit(2)) == 2
    assert calls == [[1], [2]]
    batcher.close()


def test_a_handler_that_answers_the_wrong_number_of_items_fails_the_batch() -> None:
    batcher: Batcher[int, int] = Batcher(lambda items: [], max_batch=64, name="test")
    with pytest.raises(RuntimeError, match="0 outcomes for a batch of 1"):
        asyncio.run(batcher.submit(1))
    batcher.close()


def test_a_request_that_gives_up_does_not_stop_the_write() -> None:
    handler = Recorder(hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")

    async def scenario() -> int:
        waiting = asyncio.ensure_future(batcher.submit(1))
        await asyncio.to_thread(handler.started.wait, 5)
        waiting.cancel()  # the client hung up
        await asyncio.sleep(0)
        handler.release.set()
        return await batcher.submit(2)

    assert asyncio.run(scenario()) == 4
    assert handler.batches == [[1], [2]]  # 1 was still written
    batcher.close()


def test_close_finishes_what_was_submitted() -> None:
    handler = Recorder(hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")

    async def scenario() -> None:
        waiting = asyncio.ensure_future(batcher.submit(1))
        await asyncio.to_thread(handler.started.wait, 5)
        waiting.cancel()  # the event loop ends; the write must still happen

    asyncio.run(scenario())
    threading.Timer(0.1, handler.release.set).start()
    batcher.close()
    assert handler.batches == [[1]]


def test_the_thread_waits_for_the_next_item_rather_than_ending_after_each_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batching, "LINGER_SECONDS", 30.0)
    threads: list[threading.Thread] = []

    def handler(items: Sequence[int]) -> list[int | BaseException]:
        threads.append(threading.current_thread())
        return [i * 2 for i in items]

    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")
    assert asyncio.run(batcher.submit(1)) == 2
    time.sleep(0.2)  # a thread that ends after its batch has ended by now
    assert asyncio.run(batcher.submit(2)) == 4
    batcher.close()
    assert len(threads) == 2
    assert threads[0] is threads[1]  # one thread, started once, wrote both batches


def test_close_ends_a_waiting_thread_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "LINGER_SECONDS", 60.0)
    batcher: Batcher[int, int] = Batcher(Recorder(), max_batch=64, name="test")
    assert asyncio.run(batcher.submit(1)) == 2  # its thread now waits for more

    closing = threading.Thread(target=batcher.close)
    closing.start()
    closing.join(10)  # far less than the thread's 60 s wait
    assert not closing.is_alive()
    assert asyncio.run(batcher.submit(3)) == 6  # a new thread after close
    batcher.close()


def test_requests_from_several_event_loops_each_hear_their_own_result() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(), max_batch=64, name="test")
    results: dict[int, int] = {}

    def one_loop(n: int) -> None:
        results[n] = asyncio.run(batcher.submit(n))

    threads = [threading.Thread(target=one_loop, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == {n: n * 2 for n in range(8)}
    batcher.close()


def test_when_no_thread_can_start_the_request_fails_and_the_next_one_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = Recorder()
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")
    original = threading.Thread.start

    def cannot_start(thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", cannot_start)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        asyncio.run(batcher.submit(1))
    monkeypatch.setattr(threading.Thread, "start", original)
    assert asyncio.run(batcher.submit(2)) == 4
    assert handler.batches == [[2]]  # the refused item was not kept to be written later


def test_a_handler_that_exits_fails_its_batch_with_an_error_not_the_exit() -> None:
    def exits(items: Sequence[int]) -> list[int | BaseException]:
        raise SystemExit(3)

    batcher: Batcher[int, int] = Batcher(exits, max_batch=64, name="test")
    with pytest.raises(RuntimeError, match="the batch handler stopped: SystemExit"):
        asyncio.run(batcher.submit(1))


def test_plain_threads_wait_for_their_items_and_share_batches_with_async_requests() -> None:
    """A sync route (the simulator's phone) submits from a plain thread: it blocks until its
    own item is handled, in the same batches as the event loops' requests."""
    handler = Recorder(fail_on=frozenset({3}), hold_first=True)
    batcher: Batcher[int, int] = Batcher(handler, max_batch=64, name="test")
    heard: dict[int, int | BaseException] = {}

    def plain_thread(n: int) -> None:
        try:
            heard[n] = batcher.submit_blocking(n)
        except ValueError as exc:
            heard[n] = exc

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.to_thread(handler.started.wait, 5)
        threads = [threading.Thread(target=plain_thread, args=(n,)) for n in (1, 2, 3)]
        for thread in threads:
            thread.start()
        second = asyncio.ensure_future(batcher.submit(4))
        await asyncio.sleep(0.05)  # all of them are waiting behind the first batch
        handler.release.set()
        results = list(await asyncio.gather(first, second))
        for thread in threads:
            await asyncio.to_thread(thread.join, 5)
        return results

    assert asyncio.run(scenario()) == [0, 8]
    assert (heard[1], heard[2]) == (2, 4)
    assert isinstance(heard[3], ValueError) and str(heard[3]) == "bad 3"
    assert handler.batches[0] == [0]
    assert sorted(handler.batches[1]) == [1, 2, 3, 4]  # one batch, whoever submitted
    batcher.close()


def test_a_plain_thread_hears_a_broken_handler() -> None:
    def breaks(items: Sequence[int]) -> list[int | BaseException]:
        raise OSError("disk full")

    batcher: Batcher[int, int] = Batcher(breaks, max_batch=64, name="test")
    with pytest.raises(OSError, match="disk full"):
        batcher.submit_blocking(1)
    batcher.close()


# ---------------------------------------------------------------- on the event loop itself


class LoopRecorder:
    """`Recorder` for a LoopBatcher: an async handler that can hold its first batch."""

    def __init__(self, fail_on: frozenset[int] = frozenset(), hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.hold_first = hold_first
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.started.set()
        if self.hold_first and len(self.batches) == 1:
            await self.release.wait()
        return [ValueError(f"bad {i}") if i in self.fail_on else i * 2 for i in items]


async def _first_then_the_rest_in_loop(
    batcher: LoopBatcher[int, int], handler: LoopRecorder, items: list[int]
) -> list[int | BaseException]:
    """Submit the first item; while the handler holds its batch, submit the rest (each task
    has reached its wait once the loop has run them all); release."""
    first = asyncio.ensure_future(batcher.submit(items[0]))
    await handler.started.wait()
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in items[1:]]
    await asyncio.sleep(0)  # every task runs up to its wait
    handler.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def _submit_then_give_up(batcher: LoopBatcher[int, int], handler: LoopRecorder) -> None:
    """Submit 1 and, while the handler holds its batch, stop waiting for it (the client hung
    up): the write goes on without anyone to answer."""
    waiting = asyncio.ensure_future(batcher.submit(1))
    await handler.started.wait()
    waiting.cancel()


def test_in_the_loop_items_that_arrive_during_a_batch_share_the_next_batch() -> None:
    handler = LoopRecorder(hold_first=True)
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    results = asyncio.run(_first_then_the_rest_in_loop(batcher, handler, list(range(6))))
    assert results == [0, 2, 4, 6, 8, 10]
    assert handler.batches == [[0], [1, 2, 3, 4, 5]]


def test_in_the_loop_items_submitted_together_share_one_batch() -> None:
    handler = LoopRecorder()
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(4))))

    assert asyncio.run(scenario()) == [0, 2, 4, 6]
    assert handler.batches == [[0, 1, 2, 3]]


def test_in_the_loop_a_batch_holds_at_most_max_batch_items() -> None:
    handler = LoopRecorder(hold_first=True)
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=3)

    results = asyncio.run(_first_then_the_rest_in_loop(batcher, handler, list(range(8))))
    assert results == [i * 2 for i in range(8)]
    assert handler.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]


def test_in_the_loop_an_item_that_fails_fails_only_its_own_request() -> None:
    handler = LoopRecorder(fail_on=frozenset({3}), hold_first=True)
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    results = asyncio.run(_first_then_the_rest_in_loop(batcher, handler, list(range(5))))
    assert results[:3] == [0, 2, 4] and results[4] == 8
    assert isinstance(results[3], ValueError) and str(results[3]) == "bad 3"


def test_in_the_loop_a_broken_handler_fails_its_batch_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def handler(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        if len(calls) == 1:
            raise OSError("connection lost")
        return [i for i in items]

    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    async def scenario() -> tuple[list[int | BaseException], int]:
        failed = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
        return failed, await batcher.submit(3)

    failed, later = asyncio.run(scenario())
    assert all(isinstance(e, OSError) and str(e) == "connection lost" for e in failed)
    assert len(failed) == 2 and later == 3


def test_in_the_loop_a_handler_that_answers_the_wrong_number_of_items_fails_the_batch() -> None:
    async def short(items: Sequence[int]) -> list[int | BaseException]:
        return [1]

    batcher: LoopBatcher[int, int] = LoopBatcher(short, max_batch=64)

    async def scenario() -> list[int | BaseException]:
        return await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)

    for result in asyncio.run(scenario()):
        assert isinstance(result, RuntimeError) and "1 outcomes for a batch of 2" in str(result)


def test_in_the_loop_a_request_that_gives_up_does_not_stop_the_write() -> None:
    handler = LoopRecorder(hold_first=True)
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    async def scenario() -> int:
        await _submit_then_give_up(batcher, handler)
        await asyncio.sleep(0)
        handler.release.set()
        return await batcher.submit(2)

    assert asyncio.run(scenario()) == 4
    assert handler.batches == [[1], [2]]  # 1 was still written


def test_in_the_loop_close_finishes_what_was_submitted() -> None:
    handler = LoopRecorder(hold_first=True)
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    async def scenario() -> bool:
        await _submit_then_give_up(batcher, handler)
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0)
        unfinished = not closing.done()
        handler.release.set()
        await closing
        return unfinished

    assert asyncio.run(scenario())  # close waited for the held batch
    assert handler.batches == [[1]]


def test_in_the_loop_a_writer_whose_loop_ended_before_it_ran_does_not_stall_the_next_loop() -> None:
    handler = LoopRecorder()
    batcher: LoopBatcher[int, int] = LoopBatcher(handler, max_batch=64)

    submitted: list[asyncio.Future[int]] = []

    async def ends_at_once() -> None:
        # The submit runs as the loop stops: its writer is made, and cancelled unrun.
        submitted.append(asyncio.ensure_future(batcher.submit(1)))

    asyncio.run(ends_at_once())
    assert submitted[0].cancelled()

    async def next_loop() -> int:
        return await asyncio.wait_for(batcher.submit(2), WAIT_SECONDS)

    assert asyncio.run(next_loop()) == 4


def test_each_alone_in_the_loop_when_the_batch_fails() -> None:
    written: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        written.append(list(items))
        if 2 in items:
            raise ValueError("cannot store 2")
        return [i * 10 for i in items]

    outcomes = asyncio.run(
        batching.each_alone_if_the_batch_fails_in_loop([1, 2, 3], write, lambda i: f"item {i}")
    )
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], ValueError)
    assert written == [[1, 2, 3], [1], [2], [3]]
