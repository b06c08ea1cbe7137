"""Carrier status reports that arrive together are written in one transaction.

Twilio's status callbacks (an async route: `receive`) and the simulated carrier's reports (a
list from its tick: `record_reports`) are recorded by `service.record_statuses`, many in one
session and one commit, on one thread (intake/batching.py): a callback is answered only after
the commit that holds its report. If a batch fails, each report is written alone, so a report
that cannot be stored fails only its own request (Twilio then retries it).

The rules stay the service's: replays add nothing and a message's status only moves forward,
the first final status standing. They hold inside a batch too, since every report is recorded
in arrival order, seeing what the reports before it wrote: a message's second report finds it
as the first left it (its row is read afresh under its lock), and a replay of a report in the
same batch meets the status event its original inserted (the unique key on message and word;
INSERT ... ON CONFLICT DO NOTHING sees the transaction's own rows), so it is a replay.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from messagecenter.carriers.base import StatusReport
from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.intake.batching import Batcher, each_alone_if_the_batch_fails
from messagecenter.sending.service import record_statuses

# Reports one transaction may hold: callbacks under load, or a simulator tick's backlog (a
# longer transaction would hold its messages' row locks for longer than it saves).
BATCH_SIZE = 128


class StatusReports:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._batches: Batcher[StatusReport, bool] = Batcher(
            self.record_reports, max_batch=BATCH_SIZE, name="status reports"
        )

    async def receive(self, report: StatusReport) -> bool:
        """A status callback's write, committed before this returns; True when it was new
        (False for a replay, an unknown message or a report that contradicts its sid)."""
        return await self._batches.submit(report)

    def receive_blocking(self, report: StatusReport) -> bool:
        """`receive` for a plain thread (never the batch thread itself)."""
        return self._batches.submit_blocking(report)

    def record_reports(self, reports: Sequence[StatusReport]) -> list[bool | Exception]:
        """Write `reports` in order, BATCH_SIZE to a transaction (each alone if its batch
        fails); for each, whether it was new, or the exception that kept it out."""
        outcomes: list[bool | Exception] = []
        for start in range(0, len(reports), BATCH_SIZE):
            chunk = reports[start : start + BATCH_SIZE]
            outcomes.extend(each_alone_if_the_batch_fails(chunk, self._record, _report_name))
        return outcomes

    def close(self) -> None:
        """Wait until every submitted report has been written."""
        self._batches.close()

    def _record(self, reports: Sequence[StatusReport]) -> list[bool]:
        with session_scope(self._sessions) as session:
            return record_statuses(session, reports, self._clock.now())


def _report_name(report: StatusReport) -> str:
    return f"status report {report.word!r} for {report.carrier_sid} (message {report.message_id})"
