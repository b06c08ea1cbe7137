"""Where texts and status reports from any carrier enter: one unit of work each.

The Twilio webhooks and the simulated carrier both call these, so both go through the same
services.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.clock import Clock
from messagecenter.conversations import service as conversations
from messagecenter.conversations.service import InboundOutcome
from messagecenter.db import session_scope
from messagecenter.sending import service as sending


class Intake:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = session_factory
        self._clock = clock

    def receive_inbound(self, inbound: InboundSms) -> InboundOutcome:
        try:
            with session_scope(self._sessions) as session:
                return conversations.record_inbound(session, inbound, self._clock.now())
        except conversations.DuplicateDelivery:  # a concurrent twin was stored first
            return InboundOutcome(None, None, duplicate=True)

    def receive_status(self, report: StatusReport) -> bool:
        with session_scope(self._sessions) as session:
            return sending.record_status(session, report, self._clock.now())
