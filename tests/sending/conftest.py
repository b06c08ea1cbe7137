"""Fixtures shared by the sending tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from messagecenter.events import LiveEvent
from messagecenter.sending import service


@pytest.fixture
def live_events(monkeypatch: pytest.MonkeyPatch) -> list[LiveEvent]:
    """Status events the service raises (works on both backends)."""
    raised: list[LiveEvent] = []
    original = service.queue_event_on_commit

    def record(session: Session, live_event: LiveEvent) -> None:
        raised.append(live_event)
        original(session, live_event)

    monkeypatch.setattr(service, "queue_event_on_commit", record)
    return raised
