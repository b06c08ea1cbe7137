"""The inbound queue (PostgreSQL): what a text becomes in it, and the webhook's writer.

On PostgreSQL the inbound webhook only queues its text (the workers record it later), so its
whole write is one idempotent insert of the texts that arrived together. `QueueWriter` runs
that insert on the event loop: the texts wait on the loop itself (batching.LoopBatcher) and go
in one statement on an async connection in autocommit. Handed to the batch thread instead
(batching.Batcher), each batch cost a wake-up of that thread and one of the event loop, the
interpreter lock passed between the two, and a SQLAlchemy session with BEGIN and COMMIT: more
CPU than the insert itself. Measured on PostgreSQL at concurrency 16, before and after taking
turns three times: the webhook alone 1,602 / 2,110 / 1,452 req/s against 1,491 / 1,594 /
1,390; the full intake 906 / 842 / 722 against 810 / 750 / 701.

The simulated phone's texts (`Intake.accept_inbound_sync`, from a plain thread) and tests
that bind the sessions to one connection keep the batch thread: the same statement and rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from messagecenter.carriers.base import InboundSms
from messagecenter.clock import Clock
from messagecenter.db import LoopEngine
from messagecenter.intake import queries
from messagecenter.intake.batching import LoopBatcher, each_alone_if_the_batch_fails_in_loop
from messagecenter.sms.text import NUL, REPLACEMENT

log = logging.getLogger(__name__)

WEBHOOK_BATCH_SIZE = 64  # texts a webhook's write may hold under load
CONNECTION_NAME = "messagecenter-webhook"  # its connection's application_name


def without_nul(inbound: InboundSms) -> tuple[InboundSms, bool]:
    """The text with each NUL replaced (PostgreSQL cannot store one), and whether its body
    held any. A client's text is never refused for its content."""
    fields = (inbound.carrier_sid, inbound.from_phone, inbound.to_phone, inbound.body)
    if not any(NUL in value for value in (*fields, *inbound.media_urls)):
        return inbound, False
    return replace(
        inbound,
        carrier_sid=inbound.carrier_sid.replace(NUL, REPLACEMENT),
        from_phone=inbound.from_phone.replace(NUL, REPLACEMENT),
        to_phone=inbound.to_phone.replace(NUL, REPLACEMENT),
        body=inbound.body.replace(NUL, REPLACEMENT),
        media_urls=[url.replace(NUL, REPLACEMENT) for url in inbound.media_urls],
    ), NUL in inbound.body


def queue_rows(inbounds: Sequence[InboundSms], now: datetime) -> list[dict[str, Any]]:
    """The queue's rows for these texts (queries.insert_queued, queries.queue_insert)."""
    return [
        {
            "carrier_sid": inbound.carrier_sid,
            "from_phone": inbound.from_phone,
            "to_phone": inbound.to_phone,
            "body": inbound.body,
            "body_had_nul": had_nul,
            "media_urls": list(inbound.media_urls),
            "received_at": now,
            "attempts": 0,
        }
        for inbound, had_nul in map(without_nul, inbounds)
    ]


def which_new(inbounds: Sequence[InboundSms], inserted: set[str]) -> list[bool]:
    """For each text, whether the insert stored it: a sid already queued was not, nor the
    second of two texts with one sid in a batch."""
    new: list[bool] = []
    for inbound in inbounds:
        sid = without_nul(inbound)[0].carrier_sid
        new.append(sid in inserted)
        inserted.discard(sid)
    return new


class QueueWriter:
    """Queues the inbound webhook's texts on the event loop, group-committed. Each `submit`
    returns once its text is stored: True if it was new, False if that sid was already
    queued (a retried webhook). If a batch fails, each of its texts is inserted alone, so one
    that cannot be stored fails only its own request; a connection the server dropped fails
    that batch, and the texts alone go on a new one."""

    def __init__(self, database_url: str, clock: Clock) -> None:
        self._clock = clock
        # Autocommit: its one statement stands alone, so no BEGIN and COMMIT round trips.
        self._engine = LoopEngine(database_url, CONNECTION_NAME, isolation_level="AUTOCOMMIT")
        self._batches: LoopBatcher[InboundSms, bool] = LoopBatcher(
            self._write, max_batch=WEBHOOK_BATCH_SIZE
        )

    async def submit(self, inbound: InboundSms) -> bool:
        return await self._batches.submit(inbound)

    async def close(self) -> None:
        """Finish what was submitted and close the connection (the server's shutdown)."""
        await self._batches.close()
        await self._engine.close()

    async def _write(self, inbounds: Sequence[InboundSms]) -> list[bool | Exception]:
        return await each_alone_if_the_batch_fails_in_loop(inbounds, self._insert, text_name)

    async def _insert(self, inbounds: Sequence[InboundSms]) -> list[bool]:
        statement, arrays = queries.queue_insert(queue_rows(inbounds, self._clock.now()))
        async with (await self._engine.get()).connect() as connection:
            inserted = set((await connection.execute(statement, arrays)).scalars())
        return which_new(inbounds, inserted)


def text_name(inbound: InboundSms) -> str:
    return f"inbound text {inbound.carrier_sid}"
