"""Bulk sends' SQL: the clients an audience names, the marketing texts each phone has had
lately (the frequency cap), the bulk send rows, and their messages' progress."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from messagecenter.clients.queries import CONTACT_COLUMNS, ClientContact
from messagecenter.db import insert_ignore
from messagecenter.models import BulkSend, Client, Conversation, Message, PhoneConsent
from messagecenter.models.bulk_send import BULK_SCHEDULED
from messagecenter.models.message import DIRECTION_OUTBOUND, DISPATCH_PENDING
from messagecenter.models.status import CANCELED

_bulk_sends = cast(Table, BulkSend.__table__)


def audience_contacts(
    session: Session,
    business_id: int,
    *,
    client_ids: Collection[int] | None,
    can_receive: bool,
    subscription: str,
    marketing_on: bool,
    created: tuple[datetime | None, datetime | None],
    last_texted: tuple[datetime | None, datetime | None],
) -> list[ClientContact]:
    """This business's clients that match, in id order: the chosen ones (`client_ids`), else
    everyone; narrowed by each filter given. `subscription` is any, subscribed or
    unsubscribed; the date ranges are [from, to) and either end may be open."""
    stmt = select(*CONTACT_COLUMNS).where(Client.business_id == business_id)
    if client_ids is not None:
        stmt = stmt.where(Client.id.in_(sorted(set(client_ids))))
    if can_receive:
        stmt = stmt.where(Client.cell_phone.is_not(None), Client.cell_phone_error.is_(None))
    if subscription != "any":
        opted_out = (
            select(PhoneConsent.phone)
            .where(PhoneConsent.business_id == business_id, PhoneConsent.opted_out.is_(True))
            .scalar_subquery()
        )
        inside = Client.cell_phone.in_(opted_out)
        stmt = stmt.where(inside if subscription == "unsubscribed" else or_(
            Client.cell_phone.is_(None), ~inside
        ))  # fmt: skip
    if marketing_on:
        stmt = stmt.where(Client.sms_marketing.is_(True))
    since, until = created
    if since is not None:
        stmt = stmt.where(Client.created_at >= since)
    if until is not None:
        stmt = stmt.where(Client.created_at < until)
    since, until = last_texted
    if since is not None or until is not None:
        stmt = stmt.join(
            Conversation,
            and_(
                Conversation.business_id == Client.business_id,
                Conversation.phone == Client.cell_phone,
            ),
        )
        if since is not None:
            stmt = stmt.where(Conversation.last_message_at >= since)
        if until is not None:
            stmt = stmt.where(Conversation.last_message_at < until)
    return [ClientContact(*row) for row in session.execute(stmt.order_by(Client.id))]


def marketing_counts(session: Session, business_id: int, since: datetime) -> dict[str, int]:
    """How many marketing texts each phone has been sent (or has waiting) since `since`;
    withdrawn ones do not count. One grouped read of the business's recent marketing texts
    (an index on business, category and time serves it)."""
    rows = session.execute(
        select(Message.to_phone, func.count())
        .where(
            Message.business_id == business_id,
            Message.category == "marketing",
            Message.created_at >= since,
            Message.direction == DIRECTION_OUTBOUND,
            Message.status != CANCELED,
        )
        .group_by(Message.to_phone)
    )
    return {phone: int(count) for phone, count in rows}


def bulk_send_by_key(session: Session, business_id: int, request_key: str) -> BulkSend | None:
    return session.scalar(
        select(BulkSend).where(
            BulkSend.business_id == business_id, BulkSend.request_key == request_key
        )
    )


def claim_request_key(session: Session, row: Mapping[str, Any]) -> int | None:
    """Insert the bulk send unless its business already has one with its request key: the
    new one's id, or None (a twin request wrote it first; this one waited for it)."""
    return insert_ignore(session, _bulk_sends, row, ["business_id", "request_key"])


def get_bulk_send(
    session: Session, business_id: int, bulk_send_id: int, *, for_update: bool = False
) -> BulkSend | None:
    stmt = select(BulkSend).where(BulkSend.business_id == business_id, BulkSend.id == bulk_send_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def lock_due(session: Session, at: datetime) -> BulkSend | None:
    """The scheduled send due longest ago, locked for this transaction; one another worker
    holds is passed over (it is being sent there)."""
    return session.scalar(
        select(BulkSend)
        .where(BulkSend.status == BULK_SCHEDULED, BulkSend.send_at <= at)
        .order_by(BulkSend.send_at, BulkSend.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def list_bulk_sends(session: Session, business_id: int, *, limit: int) -> list[BulkSend]:
    return list(
        session.scalars(
            select(BulkSend)
            .where(BulkSend.business_id == business_id)
            .order_by(BulkSend.id.desc())
            .limit(limit)
        )
    )


def scheduled_sends(session: Session, business_id: int) -> list[BulkSend]:
    """The business's sends still to go, the soonest first."""
    return list(
        session.scalars(
            select(BulkSend)
            .where(BulkSend.business_id == business_id, BulkSend.status == BULK_SCHEDULED)
            .order_by(BulkSend.send_at, BulkSend.id)
        )
    )


def message_statuses(session: Session, bulk_send_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Each bulk send's messages counted by status, in one grouped read."""
    found: dict[int, dict[str, int]] = {bulk_id: {} for bulk_id in bulk_send_ids}
    if not bulk_send_ids:
        return found
    rows = session.execute(
        select(Message.bulk_send_id, Message.status, func.count())
        .where(Message.bulk_send_id.in_(sorted(bulk_send_ids)))
        .group_by(Message.bulk_send_id, Message.status)
    )
    for bulk_id, status, count in rows:
        assert bulk_id is not None
        found[bulk_id][status] = int(count)
    return found


def pending_message_ids(session: Session, bulk_send_id: int) -> list[int]:
    """The bulk send's messages still waiting in the outbox."""
    return list(
        session.scalars(
            select(Message.id).where(
                Message.bulk_send_id == bulk_send_id,
                Message.dispatch_state == DISPATCH_PENDING,
            )
        )
    )


def update_bulk_send(session: Session, bulk_send_id: int, values: Mapping[str, Any]) -> None:
    session.execute(update(BulkSend).where(BulkSend.id == bulk_send_id).values(**values))
