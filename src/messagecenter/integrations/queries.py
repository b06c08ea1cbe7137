"""All SQL of outgoing webhooks: endpoints, delivery rows, claims and outcomes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from messagecenter.models import Client, WebhookDelivery, WebhookEndpoint
from messagecenter.models.webhook import DELIVERY_CANCELLED, DELIVERY_PENDING


@dataclass(frozen=True)
class Subscriber:
    endpoint_id: int
    business_id: int
    events: list[str]


def subscribers(session: Session, business_ids: Collection[int]) -> list[Subscriber]:
    """The live endpoints of these businesses, with the events each wants (one query)."""
    if not business_ids:
        return []
    rows = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.business_id, WebhookEndpoint.events)
        .where(
            WebhookEndpoint.business_id.in_(sorted(business_ids)),
            WebhookEndpoint.deleted_at.is_(None),
        )
        .order_by(WebhookEndpoint.id)
    ).all()
    return [Subscriber(row.id, row.business_id, list(row.events)) for row in rows]


def wanted_by_any(session: Session, business_id: int, event_type: str) -> bool:
    return any(event_type in s.events for s in subscribers(session, [business_id]))


def client_ids_with_phone(session: Session, business_id: int, phone: str) -> list[int]:
    return list(
        session.scalars(
            select(Client.id)
            .where(Client.business_id == business_id, Client.cell_phone == phone)
            .order_by(Client.id)
        )
    )


def insert_deliveries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(WebhookDelivery), list(rows))


def live_endpoints(session: Session, business_id: int) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.business_id == business_id,
                WebhookEndpoint.deleted_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        )
    )


def count_live_endpoints(session: Session, business_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(
                WebhookEndpoint.business_id == business_id,
                WebhookEndpoint.deleted_at.is_(None),
            )
        )
        or 0
    )


def live_endpoint(session: Session, business_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint, only when it is this business's and not deleted (tenant isolation)."""
    return session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.business_id == business_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
    )


def cancel_pending(session: Session, endpoint_id: int) -> int:
    """Cancel an endpoint's pending deliveries. Their rows are locked in id order first, the
    order the worker takes them in too (no deadlock with a worker releasing its claims)."""
    ids = session.scalars(
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == DELIVERY_PENDING,
        )
        .order_by(WebhookDelivery.id)
        .with_for_update()
    ).all()
    if not ids:
        return 0
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.state == DELIVERY_PENDING)
        .values(state=DELIVERY_CANCELLED, next_attempt_at=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def deliveries_of(
    session: Session, business_id: int, endpoint_id: int, limit: int, before_id: int | None
) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest first."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.business_id == business_id,
        WebhookDelivery.endpoint_id == endpoint_id,
    )
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def locked_delivery(
    session: Session, business_id: int, endpoint_id: int, delivery_id: int
) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.business_id == business_id,
            WebhookDelivery.endpoint_id == endpoint_id,
        )
        .with_for_update()
    )


@dataclass(frozen=True)
class DueDelivery:
    delivery: WebhookDelivery
    url: str
    secret: str
    endpoint_deleted: bool  # written as its endpoint was being deleted: never to be sent


def lock_due(session: Session, at: datetime, limit: int, per_endpoint: int) -> list[DueDelivery]:
    """Pending deliveries due by `at`, oldest due first, at most `per_endpoint` of any one
    endpoint (one endpoint's backlog must not fill every pass), locked; rows another process
    holds are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer). The
    candidates are picked first, then locked: PostgreSQL locks no rows of a windowed query."""
    turn = (
        func.row_number()
        .over(
            partition_by=WebhookDelivery.endpoint_id,
            order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id),
        )
        .label("turn")
    )
    candidates = (
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at, turn)
        .where(
            WebhookDelivery.state == DELIVERY_PENDING,
            WebhookDelivery.next_attempt_at <= at,
        )
        .subquery()
    )
    ids = session.scalars(
        select(candidates.c.id)
        .where(candidates.c.turn <= per_endpoint)
        .order_by(candidates.c.next_attempt_at, candidates.c.id)
        .limit(limit)
    ).all()
    if not ids:
        return []
    rows = session.execute(
        select(
            WebhookDelivery,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.deleted_at.is_not(None),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id.in_(ids),
            WebhookDelivery.state == DELIVERY_PENDING,  # as they stand once locked
            WebhookDelivery.next_attempt_at <= at,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    return [DueDelivery(row[0], row[1], row[2], bool(row[3])) for row in rows]


def delete_settled_before(session: Session, before: datetime) -> int:
    """Deliveries settled (delivered, failed, cancelled) and created before `before`."""
    result = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.state != DELIVERY_PENDING, WebhookDelivery.created_at < before
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def locked_claim(
    session: Session, delivery_id: int, claimed_at: datetime
) -> WebhookDelivery | None:
    """The delivery, locked, only while it is still pending under this claim (a claim whose
    lease ran out may have been taken again: its late outcome is not recorded)."""
    return session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == DELIVERY_PENDING,
            WebhookDelivery.claimed_at == claimed_at,
        )
        .with_for_update()
    )
