"""Notifications' SQL: templates, the clients a batch names, notifications by their key
(claimed with insert-or-ignore), and the two outbox changes a notification makes to its own
message while it is still pending (its due time; its withdrawal)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messagecenter.models import Message, Notification, NotificationTemplate
from messagecenter.models.notification import NOTIFICATION_QUEUED

_messages = cast(Table, Message.__table__)
_notifications = cast(Table, Notification.__table__)
_replies = _messages.alias("reply")  # built once: its columns cost more than the read

Key = tuple[str, str, str]  # (type, reference, due_key)


def templates_of(session: Session, business_id: int) -> dict[str, NotificationTemplate]:
    rows = session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.business_id == business_id)
    )
    return {row.type: row for row in rows}


def save_template(
    session: Session, business_id: int, kind: str, enabled: bool, body: str | None, at: datetime
) -> NotificationTemplate:
    """Insert or update the business's row for this type (one row per type: a racing twin
    waits on the unique index, then updates)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "business_id": business_id,
        "type": kind,
        "enabled": enabled,
        "body": body,
        "updated_at": at,
    }
    stmt = insert(NotificationTemplate).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["business_id", "type"],
        set_={"enabled": enabled, "body": body, "updated_at": at},
    )
    session.execute(stmt)
    row = session.scalar(
        select(NotificationTemplate)
        .where(NotificationTemplate.business_id == business_id, NotificationTemplate.type == kind)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def notifications_for(
    session: Session, business_id: int, pairs: Collection[tuple[str, str]]
) -> list[Notification]:
    """Every notification of these (type, reference) pairs, whatever its due time, locked in
    id order: a retry or a replacement racing this one waits for it (SQLite's single writer
    already does). Asked for as types and references, which the unique index serves on both
    databases (a list of pairs is read row by row on SQLite), then kept to the pairs."""
    if not pairs:
        return []
    found = session.scalars(
        select(Notification)
        .where(
            Notification.business_id == business_id,
            Notification.type.in_(sorted({kind for kind, _ in pairs})),
            Notification.reference.in_(sorted({reference for _, reference in pairs})),
        )
        .order_by(Notification.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return [n for n in found if (n.type, n.reference) in pairs]


def claim_keys(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[Key, int]:
    """Insert these notifications where their key is new, in one statement: the new rows' ids
    by key. A key another transaction holds is left out (its twin waits on the unique index
    until that one commits, then finds it)."""
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(_notifications)
        .on_conflict_do_nothing(index_elements=["business_id", "type", "reference", "due_key"])
        .returning(
            _notifications.c.id,
            _notifications.c.type,
            _notifications.c.reference,
            _notifications.c.due_key,
        )
    )
    return {(t, r, d): i for i, t, r, d in session.execute(stmt, list(rows))}


_SETTLE = (
    update(_notifications)
    .where(_notifications.c.id == bindparam("notification_id"))
    .values(
        status=bindparam("status"),
        reason_code=bindparam("reason_code"),
        reason=bindparam("reason"),
        message_id=bindparam("message_id"),
        updated_at=bindparam("at"),
    )
)


_LINK = (
    update(_notifications)
    .where(_notifications.c.id == bindparam("notification_id"))
    .values(message_id=bindparam("message_id"))
)


def settle(session: Session, outcomes: Sequence[Mapping[str, Any]], at: datetime) -> None:
    """Each new notification's outcome (`notification_id`: `status`, `reason_code`, `reason`,
    `message_id`). A queued one was inserted as queued at `at` and only gains its message
    (the narrower statement: most of a batch); the others are written whole."""
    linked = [
        {"notification_id": o["notification_id"], "message_id": o["message_id"]}
        for o in outcomes
        if o["status"] == NOTIFICATION_QUEUED
    ]
    others = [{**o, "at": at} for o in outcomes if o["status"] != NOTIFICATION_QUEUED]
    connection = session.connection()
    if linked:
        connection.execute(_LINK, linked)
    if others:
        connection.execute(_SETTLE, others)


def get_notification(
    session: Session, business_id: int, notification_id: int
) -> Notification | None:
    return session.scalar(
        select(Notification).where(
            Notification.business_id == business_id, Notification.id == notification_id
        )
    )


def notifications_by_id(session: Session, ids: Collection[int]) -> list[Notification]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.id.in_(sorted(ids)))
            .execution_options(populate_existing=True)
        )
    )


class MessageState(NamedTuple):
    id: int
    status: str
    dispatch_state: str


def message_states(session: Session, ids: Collection[int]) -> dict[int, MessageState]:
    if not ids:
        return {}
    rows = session.execute(
        select(
            _messages.c.id,
            _messages.c.status,
            _messages.c.dispatch_state,
        ).where(_messages.c.id.in_(sorted(ids)))
    )
    return {row.id: MessageState(*row) for row in rows}


class AnswerableMessage(NamedTuple):
    """A notification's message as a client's reply may answer it."""

    conversation_id: int
    message_id: int
    sent_at: datetime  # handed to the carrier
    notification_id: int
    type: str
    body: str
    confirmed_at: datetime | None


_ANSWERABLE = (
    select(
        _messages.c.conversation_id,
        _messages.c.id,
        _messages.c.claimed_at,
        _notifications.c.id,
        _notifications.c.type,
        _messages.c.body,
        _notifications.c.confirmed_at,
    )
    .join(_notifications, _notifications.c.message_id == _messages.c.id)
    .where(
        _messages.c.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
        _messages.c.claimed_at >= bindparam("since"),
        _messages.c.dispatch_state.in_(("sending", "accepted")),
    )
    .order_by(_messages.c.claimed_at, _messages.c.id)
)


def answerable_messages(
    session: Session, conversation_ids: Collection[int], since: datetime
) -> list[AnswerableMessage]:
    """Notification messages of these conversations handed to the carrier since `since`,
    oldest first."""
    if not conversation_ids:
        return []
    rows = session.connection().execute(
        _ANSWERABLE, {"conversation_ids": sorted(conversation_ids), "since": since}
    )
    return [AnswerableMessage(*row) for row in rows]


class ReplyTarget(NamedTuple):
    """What a client's text answers: the notification behind the automated message."""

    reply_message_id: int
    message_id: int
    notification_id: int
    type: str
    reference: str
    data: dict[str, Any]
    confirmed_by_this: bool


def reply_targets(session: Session, reply_ids: Collection[int]) -> list[ReplyTarget]:
    """For these client texts, the notification each answers (texts that answer none are
    left out)."""
    if not reply_ids:
        return []
    rows = session.execute(
        select(
            _replies.c.id,
            _notifications.c.message_id,
            _notifications.c.id,
            _notifications.c.type,
            _notifications.c.reference,
            _notifications.c.data,
            _notifications.c.confirmation_message_id == _replies.c.id,
        )
        .join(_notifications, _notifications.c.message_id == _replies.c.reply_to_message_id)
        .where(_replies.c.id.in_(sorted(reply_ids)))
    )
    return [
        ReplyTarget(reply, message, notification, kind, reference, data, bool(confirms))
        for reply, message, notification, kind, reference, data, confirms in rows
    ]


def confirm(session: Session, notification_id: int, message_id: int, at: datetime) -> bool:
    """Record the client's confirmation on its notification; False if it had one already
    (the first YES stands)."""
    done = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.confirmed_at.is_(None))
        .values(confirmed_at=at, confirmation_message_id=message_id, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]
