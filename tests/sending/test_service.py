"""sending.service through the real database: claims, carrier outcomes and status reports
(DESIGN.md §2 "Message status", "Never sent twice", "Allowance", "Keywords")."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.carriers.base import CarrierAccepted, StatusReport
from messagecenter.carriers.twilio.errors import REASONS, explain, reason_for
from messagecenter.carriers.twilio.statuses import our_status
from messagecenter.clock import FrozenClock
from messagecenter.consent.service import is_opted_out
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.errors import ClientUnsubscribed
from messagecenter.events import LiveEvent
from messagecenter.models import Client, ConsentRecord, Message, MessageStatusEvent
from messagecenter.models.consent import CONSENT_OPT_OUT, SOURCE_CARRIER_21610
from messagecenter.models.message import (
    DISPATCH_ACCEPTED,
    DISPATCH_HELD,
    DISPATCH_PENDING,
    DISPATCH_REJECTED,
    DISPATCH_SENDING,
)
from messagecenter.sending import service
from messagecenter.sending.compose import Sender, send_message
from tests.factories import PUBLIC_URL, SetUp, make_business, make_client

CALLBACK_URL = PUBLIC_URL + "/webhooks/twilio/status"


def callback_url(message_id: int) -> str:
    """The carrier's status-callback URL for a message (Twilio's shape)."""
    return f"{CALLBACK_URL}?message={message_id}"


CLIENT_PHONE = "+12125550142"


@dataclass
class Outbound:
    setup: SetUp
    client: Client
    message_id: int
    sid: str | None


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def queue_outbound(
    session: Session, context: AppContext, at: datetime, *, state: str = DISPATCH_ACCEPTED
) -> Outbound:
    """A business, a client and one outbound message, left pending, claimed, handed to the
    carrier (sending) or accepted."""
    setup = make_business(session, context.carrier, at)
    client = make_client(session, setup.business, at, cell_phone=CLIENT_PHONE)
    message = send_message(
        session,
        setup.business,
        body="See you at 4!",
        sender=Sender.automated(),
        at=at,
        client=client,
    )
    session.flush()
    sid = None
    if state in (DISPATCH_HELD, DISPATCH_SENDING, DISPATCH_ACCEPTED):
        claimed = service.claim_due(session, at, 50, callback_url)
        assert [c.message_id for c in claimed] == [message.id]
    if state in (DISPATCH_SENDING, DISPATCH_ACCEPTED):
        assert service.mark_sending(session, [claimed[0]], at, at + timedelta(minutes=2))
    if state == DISPATCH_ACCEPTED:
        sid = new_sid()
        service.record_accepted(session, message.id, CarrierAccepted(sid, "queued"), at)
    session.commit()
    return Outbound(setup, client, message.id, sid)


def load(session: Session, message_id: int) -> Message:
    message = session.scalar(
        select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
    )
    assert message is not None
    return message


def event_statuses(session: Session, message_id: int) -> list[str]:
    return list(
        session.scalars(
            select(MessageStatusEvent.status)
            .where(MessageStatusEvent.message_id == message_id)
            .order_by(MessageStatusEvent.id)
        )
    )


def report(out: Outbound, word: str, code: int | None = None, **kw: Any) -> StatusReport:
    assert out.sid is not None
    payload = {"MessageSid": out.sid, "MessageStatus": word}
    if code is not None:
        payload["ErrorCode"] = str(code)
    return StatusReport(
        kw.get("sid", out.sid),
        our_status(word),
        kw.get("message_id", out.message_id),
        explain(code) if code is not None else None,
        payload,
        carrier_word=word,
    )


def receive(context: AppContext, status_report: StatusReport) -> bool:
    """The report in its own unit of work, through the batch path reports.py takes (a plain
    report on its bulk statements, any other on record_status)."""
    with session_scope(context.sessions) as session:
        [new] = service.record_statuses(session, [status_report], context.clock.now())
        return new


# ---------------------------------------------------------------------------- batches


def test_a_batch_of_reports_moves_each_message_forward_in_arrival_order(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    first = queue_outbound(session, context, clock.now())
    second = queue_outbound(session, context, clock.now())
    batch = [
        report(first, "sent"),
        report(second, "delivered"),
        report(first, "delivered"),
        report(second, "sent"),  # late: stored, changes nothing
        report(first, "sent"),  # a replay within the batch
    ]
    with session_scope(context.sessions) as unit:
        assert service.record_statuses(unit, batch, clock.now()) == [True] * 4 + [False]

    assert load(session, first.message_id).status == "delivered"
    assert load(session, second.message_id).status == "delivered"
    assert event_statuses(session, first.message_id) == ["sent", "delivered"]
    assert sorted(event_statuses(session, second.message_id)) == ["delivered", "sent"]
    assert [(e.data["message_id"], e.data["status"]) for e in live_events] == [
        (first.message_id, "delivered"),
        (second.message_id, "delivered"),
    ]


def _state(session: Session, outs: list[Outbound]) -> list[object]:
    """What status reports can change, for each message of `outs` by its place: its status,
    state, whether it holds its own sid, its error, its events; and its business's consent
    records."""
    session.expire_all()
    state: list[object] = []
    for out in outs:
        m = load(session, out.message_id)
        consent = session.scalars(
            select(ConsentRecord.source)
            .where(ConsentRecord.business_id == out.setup.business.id)
            .order_by(ConsentRecord.id)
        ).all()
        state.append(
            (
                m.status,
                m.dispatch_state,
                m.carrier_sid == out.sid,
                m.error_code,
                m.error_message,
                sorted(event_statuses(session, out.message_id)),
                consent,
            )
        )
    return state


def test_a_batch_ends_where_the_same_reports_one_by_one_end(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Random batches (plain reports, errors, replays, wrong sids, unknown messages, reports
    by sid alone) leave exactly what record_status leaves report by report in the same order:
    the same reports go to two identical sets of messages, one batch for the first set, one
    by one for the second."""
    batched_outs = [queue_outbound(session, context, clock.now()) for _ in range(6)]
    alone_outs = [queue_outbound(session, context, clock.now()) for _ in range(6)]
    rng = random.Random(12)
    words = ["sent", "delivered", "undelivered", "failed", "read", "sent", "delivered"]
    specs = []
    for n in range(60):
        word = rng.choice(words)
        code = rng.choice([None, None, 30003, 21610]) if word in ("undelivered", "failed") else None
        specs.append((rng.randrange(6), word, code, rng.random(), n))

    def reports_for(outs: list[Outbound]) -> list[StatusReport]:
        made = []
        for index, word, code, kind, n in specs:
            out = outs[index]
            if kind < 0.1:  # another carrier message's sid
                made.append(report(out, word, code, sid=f"SMother{n}{out.message_id}"))
            elif kind < 0.2:  # by sid alone
                made.append(report(out, word, code, message_id=None))
            elif kind < 0.25:  # not ours
                made.append(report(out, word, code, message_id=999_999))
            else:
                made.append(report(out, word, code))
        return made

    with session_scope(context.sessions) as unit:
        batched = service.record_statuses(unit, reports_for(batched_outs), clock.now())
    one_by_one = [receive_alone(context, r) for r in reports_for(alone_outs)]

    assert _state(session, batched_outs) == _state(session, alone_outs)
    assert batched == one_by_one
    assert any(batched) and not all(batched)


def test_plain_reports_cost_the_same_statements_however_many_arrive(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The common case is written set-wise: a batch of 2 plain reports and one of 8 run the
    same number of statements (one by one, each report costs several)."""
    outs = [queue_outbound(session, context, clock.now()) for _ in range(10)]

    def statements_for(batch: list[StatusReport]) -> int:
        executed: list[str] = []

        def count(*args: object) -> None:
            executed.append(str(args[2]))

        engine = context.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            with session_scope(context.sessions) as unit:
                assert all(service.record_statuses(unit, batch, clock.now()))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(executed)

    few = statements_for([report(out, "sent") for out in outs[:2]])
    many = statements_for([report(out, "sent") for out in outs[2:]])
    assert few == many
    assert all(load(session, out.message_id).status == "sent" for out in outs)


def receive_alone(context: AppContext, status_report: StatusReport) -> bool:
    with session_scope(context.sessions) as session:
        return service.record_status(session, status_report, context.clock.now())


# ---------------------------------------------------------------------------- reordering


def test_delivered_before_sent_stays_delivered_and_both_are_stored(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())

    assert receive(context, report(out, "delivered")) is True
    assert receive(context, report(out, "sent")) is True

    message = load(session, out.message_id)
    assert message.status == "delivered"
    assert event_statuses(session, out.message_id) == ["delivered", "sent"]


def test_forward_reports_climb_the_ladder(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    out = queue_outbound(session, context, clock.now())
    for word, expected in [("sending", "queued"), ("sent", "sent"), ("delivered", "delivered")]:
        clock.advance(timedelta(seconds=1))
        assert receive(context, report(out, word))
        message = load(session, out.message_id)
        assert message.status == expected
    assert message.updated_at == clock.now()
    assert event_statuses(session, out.message_id) == ["sending", "sent", "delivered"]
    statuses = [e.data["status"] for e in live_events if e.type == "message.status"]
    assert statuses[-2:] == ["sent", "delivered"]


def test_exact_replay_adds_nothing(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "sent")) is True
    first = load(session, out.message_id)
    first_updated = first.updated_at
    events_after_first = len(live_events)
    assert events_after_first >= 1

    clock.advance(timedelta(minutes=1))
    assert receive(context, report(out, "sent")) is False

    message = load(session, out.message_id)
    assert message.status == "sent"
    assert message.updated_at == first_updated
    assert event_statuses(session, out.message_id) == ["sent"]
    assert len(live_events) == events_after_first  # no second live event


def test_status_word_case_does_not_make_a_new_event(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "delivered")) is True
    assert receive(context, report(out, " Delivered ")) is False
    assert event_statuses(session, out.message_id) == ["delivered"]


def test_failed_after_delivered_is_stored_but_changes_nothing(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "delivered"))
    raised = len(live_events)

    assert receive(context, report(out, "failed", 30008)) is True

    message = load(session, out.message_id)
    assert message.status == "delivered"
    assert message.error_code is None
    assert message.error_message is None
    assert event_statuses(session, out.message_id) == ["delivered", "failed"]
    failed = session.scalar(
        select(MessageStatusEvent).where(
            MessageStatusEvent.message_id == out.message_id, MessageStatusEvent.status == "failed"
        )
    )
    assert failed is not None
    assert failed.error_code == 30008
    assert failed.payload["ErrorCode"] == "30008"
    assert len(live_events) == raised  # nothing changed, nothing announced


def test_delivered_after_undelivered_changes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "undelivered", 30003))
    assert receive(context, report(out, "delivered"))
    assert receive(context, report(out, "read"))
    message = load(session, out.message_id)
    assert message.status == "undelivered"
    assert message.error_code == 30003
    assert event_statuses(session, out.message_id) == ["undelivered", "delivered", "read"]


def test_read_after_delivered_moves_up(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "delivered"))
    assert receive(context, report(out, "read"))
    assert load(session, out.message_id).status == "read"


def test_every_twilio_status_word_is_stored(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Twilio's Message status enum includes "partially_delivered"; every distinct callback
    is stored, whatever its word (the status itself does not move on an unknown word)."""
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "sent"))
    assert receive(context, report(out, "partially_delivered")) is True
    assert event_statuses(session, out.message_id) == ["sent", "partially_delivered"]
    assert load(session, out.message_id).status == "sent"


# ---------------------------------------------------------------------------- error codes


def test_undelivered_keeps_the_reason_in_words(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "undelivered", 30003))
    message = load(session, out.message_id)
    assert message.status == "undelivered"
    assert message.error_code == 30003
    assert message.error_message == REASONS[30003]
    last = [e for e in live_events if e.type == "message.status"][-1]
    assert last.data["status"] == "undelivered"
    assert last.data["error_message"] == REASONS[30003]


def test_unknown_error_code_keeps_its_number(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert 39999 not in REASONS
    assert receive(context, report(out, "failed", 39999))
    message = load(session, out.message_id)
    assert message.status == "failed"
    assert message.error_code == 39999
    assert message.error_message is not None
    assert "39999" in message.error_message
    assert message.error_message == reason_for(39999)


def test_error_21610_in_a_report_opts_the_phone_out(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "failed", 21610))

    business_id = out.setup.business.id
    assert is_opted_out(session, business_id, CLIENT_PHONE)
    records = session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.business_id == business_id, ConsentRecord.phone == CLIENT_PHONE
        )
    ).all()
    assert [(r.action, r.source, r.message_id) for r in records] == [
        (CONSENT_OPT_OUT, SOURCE_CARRIER_21610, out.message_id)
    ]
    assert records[0].source == "carrier_error_21610"
    assert records[0].sms_number == out.setup.number.phone_number
    with pytest.raises(ClientUnsubscribed):
        send_message(
            session,
            out.setup.business,
            body="Again?",
            sender=Sender.automated(),
            at=clock.now(),
            client=out.client,
        )


def test_error_21610_in_a_rejection_opts_the_phone_out(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    service.record_rejected(session, out.message_id, explain(21610), "unsubscribed", clock.now())
    session.commit()

    message = load(session, out.message_id)
    assert (message.status, message.dispatch_state) == ("failed", DISPATCH_REJECTED)
    assert message.error_message == REASONS[21610]
    assert is_opted_out(session, out.setup.business.id, CLIENT_PHONE)
    sources = session.scalars(
        select(ConsentRecord.source).where(ConsentRecord.business_id == out.setup.business.id)
    ).all()
    assert sources == [SOURCE_CARRIER_21610]


def test_a_second_21610_writes_no_second_consent_record(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "undelivered", 21610))
    assert receive(context, report(out, "failed", 21610))
    count = session.scalar(
        select(func.count())
        .select_from(ConsentRecord)
        .where(ConsentRecord.business_id == out.setup.business.id)
    )
    assert count == 1


@pytest.mark.parametrize("code", [21211, 21612, 21614])
def test_cannot_receive_codes_mark_the_clients_cell_phone(
    session: Session, context: AppContext, clock: FrozenClock, code: int
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    # Another business's client with the same phone is not touched.
    other = make_business(session, context.carrier, clock.now())
    other_client = make_client(session, other.business, clock.now(), cell_phone=CLIENT_PHONE)
    session.commit()

    service.record_rejected(session, out.message_id, explain(code), "refused", clock.now())
    session.commit()

    session.refresh(out.client)
    session.refresh(other_client)
    assert out.client.cell_phone_error == reason_for(code)
    assert out.client.cell_phone_error == REASONS[code]
    assert other_client.cell_phone_error is None
    assert not is_opted_out(session, out.setup.business.id, CLIENT_PHONE)


def test_cannot_receive_code_in_a_report_marks_the_cell_phone(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "undelivered", 21614))
    session.refresh(out.client)
    assert out.client.cell_phone_error == REASONS[21614]


def test_delivery_failure_codes_have_no_side_effects(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "undelivered", 30003))
    session.refresh(out.client)
    assert out.client.cell_phone_error is None
    assert not is_opted_out(session, out.setup.business.id, CLIENT_PHONE)


# ---------------------------------------------------------------------------- matching


def test_report_for_an_unknown_message_stores_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    before = session.scalar(select(func.count()).select_from(MessageStatusEvent))

    stray = StatusReport(new_sid(), "delivered", out.message_id + 10_000)
    assert receive(context, stray) is False
    no_id = StatusReport(new_sid(), "delivered", None)
    assert receive(context, no_id) is False

    assert session.scalar(select(func.count()).select_from(MessageStatusEvent)) == before
    assert load(session, out.message_id).status == "queued"


def test_report_without_our_id_is_matched_by_sid(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    assert receive(context, report(out, "sent", message_id=None)) is True
    assert load(session, out.message_id).status == "sent"


def test_report_with_another_sid_is_ignored(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    forged = report(out, "failed", 30007, sid=new_sid())
    assert receive(context, forged) is False
    message = load(session, out.message_id)
    assert message.status == "queued"
    assert message.carrier_sid == out.sid
    assert event_statuses(session, out.message_id) == []


def test_callback_before_record_accepted_settles_the_claim(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    message = load(session, out.message_id)
    assert (message.dispatch_state, message.carrier_sid) == (DISPATCH_SENDING, None)

    sid = new_sid()
    early = StatusReport(sid, "sent", out.message_id, None, {"MessageSid": sid})
    assert receive(context, early) is True

    message = load(session, out.message_id)
    assert message.dispatch_state == DISPATCH_ACCEPTED
    assert message.carrier_sid == sid
    assert message.status == "sent"

    # The dispatcher's own record arrives late: it moves nothing back.
    service.record_accepted(session, out.message_id, CarrierAccepted(sid, "queued"), clock.now())
    session.commit()
    message = load(session, out.message_id)
    assert (message.status, message.carrier_sid, message.dispatch_state) == (
        "sent",
        sid,
        DISPATCH_ACCEPTED,
    )
    # Settled: no longer a stale claim.
    later = clock.now() + timedelta(hours=1)
    assert service.due_lookups(session, later, timedelta(0), timedelta(hours=1), 10) == []


# ---------------------------------------------------------------------------- outcomes


def test_record_accepted_maps_the_carrier_word(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    sid = new_sid()
    service.record_accepted(
        session, out.message_id, CarrierAccepted(sid, our_status("accepted")), clock.now()
    )
    session.commit()
    message = load(session, out.message_id)
    assert (message.status, message.dispatch_state, message.carrier_sid) == (
        "queued",
        DISPATCH_ACCEPTED,
        sid,
    )


def test_claim_due_claims_once_and_commits_the_claim_state(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_PENDING)
    claimed = service.claim_due(session, clock.now(), 10, callback_url)
    assert [c.message_id for c in claimed] == [out.message_id]
    sms = claimed[0].sms
    assert sms.status_callback_url == f"{CALLBACK_URL}?message={out.message_id}"
    assert (sms.to_phone, sms.from_phone, sms.body) == (
        CLIENT_PHONE,
        out.setup.number.phone_number,
        "See you at 4!",
    )
    message = load(session, out.message_id)
    assert (message.dispatch_state, message.attempts, message.claimed_at) == (
        DISPATCH_HELD,
        0,  # a claim is no attempt: mark_sending counts one
        clock.now(),
    )
    assert service.claim_due(session, clock.now() + timedelta(days=1), 10, callback_url) == []


def test_claim_due_skips_messages_not_yet_due(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queue_outbound(session, context, clock.now() + timedelta(minutes=5), state=DISPATCH_PENDING)
    assert service.claim_due(session, clock.now(), 10, callback_url) == []
    later = clock.now() + timedelta(minutes=5)
    assert len(service.claim_due(session, later, 10, callback_url)) == 1


def test_rejection_fails_the_message_and_gives_its_units_back(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    business = out.setup.business
    assert usage.summarize(session, business, clock.now()).used == 1

    service.record_rejected(
        session, out.message_id, explain(21408), "region not enabled", clock.now()
    )
    session.commit()

    message = load(session, out.message_id)
    assert (message.status, message.dispatch_state) == ("failed", DISPATCH_REJECTED)
    assert (message.error_code, message.error_message) == (21408, REASONS[21408])
    summary = usage.summarize(session, business, clock.now())
    assert (summary.used, summary.outbound_units) == (0, 0)

    # A second rejection (a retried step) gives nothing back twice.
    service.record_rejected(session, out.message_id, explain(21408), "again", clock.now())
    session.commit()
    assert usage.summarize(session, business, clock.now()).used == 0


def test_rejection_without_a_code_keeps_the_detail(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    service.record_rejected(session, out.message_id, None, "Refused for a reason.", clock.now())
    session.commit()
    message = load(session, out.message_id)
    assert (message.status, message.error_code, message.error_message) == (
        "failed",
        None,
        "Refused for a reason.",
    )


def test_an_accepted_message_counts_whatever_happens(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    service.record_rejected(session, out.message_id, explain(21610), "late", clock.now())
    session.commit()
    message = load(session, out.message_id)
    assert (message.status, message.dispatch_state) == ("queued", DISPATCH_ACCEPTED)
    assert usage.summarize(session, out.setup.business, clock.now()).used == 1

    assert receive(context, report(out, "undelivered", 30005))
    assert usage.summarize(session, out.setup.business, clock.now()).used == 1


def test_retry_later_returns_the_message_to_the_outbox(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now(), state=DISPATCH_SENDING)
    service.record_retry_later(session, out.message_id, clock.now(), 45.0, random.Random(1))
    session.commit()
    message = load(session, out.message_id)
    assert message.dispatch_state == DISPATCH_PENDING
    assert message.claimed_at is None
    assert message.status == "queued"
    assert message.next_attempt_at is not None
    assert message.next_attempt_at >= clock.now() + timedelta(seconds=45)


def test_retry_later_does_not_touch_an_accepted_message(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    out = queue_outbound(session, context, clock.now())
    service.record_retry_later(session, out.message_id, clock.now(), None, random.Random(1))
    session.commit()
    assert load(session, out.message_id).dispatch_state == DISPATCH_ACCEPTED


# ---------------------------------------------------------------------------- backoff


@pytest.mark.parametrize("attempts", range(1, 12))
def test_backoff_stays_within_its_jittered_window(attempts: int) -> None:
    ceiling = min(service.BACKOFF_MAX_SECONDS, service.BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    rng = random.Random(attempts)
    for _ in range(50):
        delay = service.backoff_seconds(attempts, None, rng)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_grows_with_attempts_and_is_capped() -> None:
    rng = random.Random(3)
    lows = [min(service.backoff_seconds(n, None, rng) for _ in range(30)) for n in range(1, 9)]
    highs = [max(service.backoff_seconds(n, None, rng) for _ in range(30)) for n in range(1, 9)]
    for n in range(len(lows) - 1):
        assert lows[n + 1] >= highs[n] - 1e-9  # each window starts where the last ended
    assert lows[-1] > highs[0] * 10
    assert all(service.backoff_seconds(40, None, rng) <= 300.0 for _ in range(20))


def test_backoff_has_jitter() -> None:
    delays = {service.backoff_seconds(4, None, random.Random(seed)) for seed in range(20)}
    assert len(delays) > 10


@pytest.mark.parametrize("retry_after", [0.5, 30.0, 600.0])
def test_backoff_is_never_sooner_than_the_carrier_asked(retry_after: float) -> None:
    rng = random.Random(5)
    for attempts in range(1, 8):
        assert service.backoff_seconds(attempts, retry_after, rng) >= retry_after
