"""Replies that belong to something: a client's text within a day of a notification's message
is linked to it; a yes to one that asked for it confirms the notification, once, and only from
a subscribed client."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.consent.service import is_opted_out
from messagecenter.context import AppContext
from messagecenter.integrations.service import create_endpoint
from messagecenter.models import Client, Message, Notification, StaffMember, WebhookDelivery
from messagecenter.notifications import service
from messagecenter.notifications.replies import replies_to
from messagecenter.notifications.service import Trigger
from messagecenter.notifications.templates import BookingData
from messagecenter.sms.keywords import CONFIRMATION_WORDS, is_confirmation
from tests.factories import MARIA, SetUp, text_from

BOOKING = BookingData(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), "Massage", "Ana", "Main St")
ASKING = (
    "[BusinessName]: your [Service] is on [BookingDate] at [BookingTime]. Reply YES to confirm."
)


def sent_reminder(
    session: Session,
    context: AppContext,
    shop: SetUp,
    client: Client,
    *,
    reference: str = "b-1",
    body: str | None = ASKING,
) -> Notification:
    """A booking reminder handed to the carrier now (the template asking for a YES unless
    `body` is None: the default wording, which does not)."""
    if body is not None:
        service.save_template(
            session, shop.business, "booking_reminder", enabled=True, body=body,
            reset_body=False, at=context.clock.now(),
        )  # fmt: skip
    trigger = Trigger("booking_reminder", reference, client_id=client.id, data=BOOKING)
    (outcome,) = service.trigger_many(session, shop.business, [trigger], context.clock.now())
    assert outcome.notification is not None and outcome.notification.message_id is not None
    session.commit()
    assert context.dispatcher.run_once() >= 1  # with any reminder still waiting
    session.expire_all()
    stored = session.get(Notification, outcome.notification.id)
    assert stored is not None
    return stored


def reply(session: Session, shop: SetUp, body: str, at: datetime) -> Message:
    outcome = text_from(session, shop.number, MARIA, body, at)
    assert outcome.message_id is not None
    found = session.get(Message, outcome.message_id)
    assert found is not None
    return found


def test_a_reply_within_a_day_is_linked_to_the_automated_message_it_answers(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    reminder = sent_reminder(session, context, shop, maria)
    clock.advance(timedelta(hours=23, minutes=59))
    answer = reply(session, shop, "Can I come at 4 instead?", clock.now())
    assert answer.reply_to_message_id == reminder.message_id

    shown = replies_to(session, shop.business, [answer])[answer.id]
    assert (shown.notification_id, shown.type, shown.reference) == (
        reminder.id,
        "booking_reminder",
        "b-1",
    )
    # The booking's time, in the business's zone and its country's way.
    assert shown.label == "Booking reminder, Fri 10:00 AM"
    assert not shown.confirms


def test_a_reply_after_a_day_or_before_the_message_went_answers_nothing(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    trigger = Trigger("booking_reminder", "b-2", client_id=maria.id, data=BOOKING)
    service.trigger_many(session, shop.business, [trigger], clock.now())
    session.flush()
    early = reply(session, shop, "Hello?", clock.now())  # its reminder has not gone yet
    assert early.reply_to_message_id is None

    sent_reminder(session, context, shop, maria, reference="b-3")
    clock.advance(timedelta(hours=24, seconds=1))
    late = reply(session, shop, "Thanks", clock.now())
    assert late.reply_to_message_id is None
    assert replies_to(session, shop.business, [early, late]) == {}


def test_a_reply_answers_the_latest_of_two_automated_messages(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    sent_reminder(session, context, shop, maria, reference="b-4")
    clock.advance(timedelta(hours=1))
    second = sent_reminder(session, context, shop, maria, reference="b-5")
    answer = reply(session, shop, "ok see you", clock.now())
    assert answer.reply_to_message_id == second.message_id


@pytest.mark.parametrize("word", ["YES", "yes!", "Y", "Yep", "confirmed."])
def test_a_yes_to_a_message_that_asked_confirms_its_notification(
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    shop: SetUp,
    maria: Client,
    word: str,
) -> None:
    reminder = sent_reminder(session, context, shop, maria)
    clock.advance(timedelta(minutes=5))
    yes = reply(session, shop, word, clock.now())

    session.refresh(reminder)
    assert (reminder.confirmed_at, reminder.confirmation_message_id) == (clock.now(), yes.id)
    assert replies_to(session, shop.business, [yes])[yes.id].confirms
    assert yes.reply_to_message_id == reminder.message_id

    first = clock.now()
    clock.advance(timedelta(minutes=5))
    again = reply(session, shop, "YES", clock.now())  # the first yes stands
    session.refresh(reminder)
    assert (reminder.confirmed_at, reminder.confirmation_message_id) == (first, yes.id)
    assert not replies_to(session, shop.business, [again])[again.id].confirms


def test_a_yes_to_a_message_that_did_not_ask_confirms_nothing(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    reminder = sent_reminder(session, context, shop, maria, body=None)  # the default wording
    yes = reply(session, shop, "YES", clock.now())
    session.refresh(reminder)
    assert yes.reply_to_message_id == reminder.message_id  # linked all the same
    assert reminder.confirmed_at is None


def test_a_sentence_with_yes_in_it_confirms_nothing(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    reminder = sent_reminder(session, context, shop, maria)
    reply(session, shop, "yes but can we move it?", clock.now())
    session.refresh(reminder)
    assert reminder.confirmed_at is None


def test_yes_from_an_unsubscribed_client_is_the_opt_in_keyword_and_confirms_nothing(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    reminder = sent_reminder(session, context, shop, maria)
    reply(session, shop, "STOP", clock.now())
    assert is_opted_out(session, shop.business.id, MARIA)

    reply(session, shop, "YES", clock.now())

    assert not is_opted_out(session, shop.business.id, MARIA)  # YES opted back in
    session.refresh(reminder)
    assert reminder.confirmed_at is None


def test_every_confirmation_word_is_one_and_ordinary_words_are_not() -> None:
    for word in CONFIRMATION_WORDS:
        assert is_confirmation(word) and is_confirmation(f" {word.lower()}! ")
    for text in ("", "yess", "yes please", "no", "STOP", "y es"):
        assert not is_confirmation(text)


def test_the_api_and_the_thread_say_what_a_reply_answers_and_that_it_confirmed(
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    shop: SetUp,
    maria: Client,
    api: TestClient,
) -> None:
    reminder = sent_reminder(session, context, shop, maria)
    yes = reply(session, shop, "Yes", clock.now())
    session.commit()
    headers = shop.auth

    message = api.get(f"/api/v1/messages/{yes.id}", headers=headers).json()
    assert message["reply_to"] == {
        "message_id": reminder.message_id,
        "notification_id": reminder.id,
        "type": "booking_reminder",
        "reference": "b-1",
        "label": "Booking reminder, Fri 10:00 AM",
        "confirms": True,
    }
    page = api.get(f"/api/v1/conversations/{yes.conversation_id}/messages", headers=headers).json()
    assert [m["reply_to"] is not None for m in page["items"]] == [False, True]
    notification = api.get(f"/api/v1/notifications/{reminder.id}", headers=headers).json()
    assert notification["confirmation_message_id"] == yes.id
    assert notification["confirmed_at"] is not None

    owner = session.scalars(
        select(StaffMember).where(StaffMember.business_id == shop.business.id)
    ).one()
    api.base_url = api.base_url.copy_with(scheme="https")  # the session cookie is Secure
    login = api.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    signed_in = api.post(
        "/login",
        data={"email": owner.email, "password": shop.owner_password, "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    thread = api.get(f"/conversations/{yes.conversation_id}").text
    assert (
        'Reply to: Booking reminder, Fri 10:00 AM · <strong class="confirmed">Confirmed' in thread
    )


def test_a_confirmation_is_told_to_the_booking_system_by_webhook_in_the_same_transaction(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp, maria: Client
) -> None:
    endpoint, _secret = create_endpoint(
        session, shop.business.id, url="http://127.0.0.1:9/hooks",
        events=["notification.confirmed"], description="booking system", at=clock.now(),
        allow_private=True,
    )  # fmt: skip
    reminder = sent_reminder(session, context, shop, maria)
    yes = reply(session, shop, "YES", clock.now())

    (delivery,) = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    )
    assert delivery.event_type == "notification.confirmed"
    data = json.loads(delivery.body)["data"]
    assert (data["notification_id"], data["reference"], data["reply_message_id"]) == (
        reminder.id,
        "b-1",
        yes.id,
    )
