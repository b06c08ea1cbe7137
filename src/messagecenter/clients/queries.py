"""SQL for client profiles, always scoped by business."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from messagecenter.db import contains_pattern
from messagecenter.models import Client
from messagecenter.models.ids import MAX_ID


def get_client(session: Session, business_id: int, client_id: int) -> Client | None:
    """The business's client with this id; None for an id no row can have (one past 32 bits,
    typed into a filter's URL, would make the database refuse the query)."""
    if not 1 <= client_id <= MAX_ID:
        return None
    return session.scalar(
        select(Client).where(Client.id == client_id, Client.business_id == business_id)
    )


_BY_NAME = (Client.last_name, Client.first_name, Client.id)


def list_clients(
    session: Session, business_id: int, *, search: str | None, limit: int, offset: int
) -> tuple[list[Client], int]:
    stmt = select(Client).where(Client.business_id == business_id)
    if search and search.strip():
        stmt = stmt.where(matches_search(search))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*_BY_NAME).limit(limit).offset(offset))
    return list(rows), int(total)


def find_clients(
    session: Session, business_id: int, text: str, phone_digits: str | None, *, limit: int
) -> list[Client]:
    """Up to `limit` clients, by name, whose name, email or phone holds `text`, or whose
    cell phone holds `phone_digits` (a phone as people write it, read to its digits)."""
    found = [matches_search(text)]
    if phone_digits:
        found.append(Client.cell_phone.like(f"%{phone_digits}%"))
    stmt = select(Client).where(Client.business_id == business_id, or_(*found))
    return list(session.scalars(stmt.order_by(*_BY_NAME).limit(limit)))


def clients_by_name(session: Session, business_id: int, *, limit: int) -> list[Client]:
    """The business's first `limit` clients by name (for a picker: no count needed)."""
    stmt = select(Client).where(Client.business_id == business_id).order_by(*_BY_NAME)
    return list(session.scalars(stmt.limit(limit)))


def clients_with_cell_phone(session: Session, business_id: int) -> list[Client]:
    """The business's clients that have a cell phone, by first name."""
    stmt = select(Client).where(Client.business_id == business_id, Client.cell_phone.is_not(None))
    return list(session.scalars(stmt.order_by(Client.first_name)))


def clients_by_cell_phone(
    session: Session, business_id: int, cell_phone: str, *, excluding: int | None = None
) -> list[Client]:
    """The business's clients with this cell phone (E.164), by name; `excluding` left out."""
    stmt = select(Client).where(Client.business_id == business_id, Client.cell_phone == cell_phone)
    if excluding is not None:
        stmt = stmt.where(Client.id != excluding)
    return list(session.scalars(stmt.order_by(*_BY_NAME)))


def matches_search(search: str) -> ColumnElement[bool]:
    """Name, email or phone containing `search` (the user's % and _ taken literally)."""
    term = contains_pattern(search.lower())
    return or_(
        func.lower(Client.first_name + " " + Client.last_name).like(term, escape="\\"),
        func.lower(Client.email).like(term, escape="\\"),
        Client.cell_phone.like(contains_pattern(search), escape="\\"),
    )


def mark_cell_phone_error(
    session: Session, business_id: int, cell_phone: str, reason: str, at: datetime
) -> None:
    """The carrier says this phone cannot receive texts: every client of the business with
    it as cell phone shows why."""
    session.execute(
        update(Client)
        .where(Client.business_id == business_id, Client.cell_phone == cell_phone)
        .values(cell_phone_error=reason, updated_at=at)
    )


@dataclass(frozen=True, slots=True)
class ClientContact:
    """What sending needs of a client, read without loading the whole profile (a batch of a
    thousand reads at database speed)."""

    id: int
    first_name: str
    last_name: str
    cell_phone: str | None
    cell_phone_error: str | None
    sms_reminders: bool
    sms_account: bool
    sms_marketing: bool


# A ClientContact's columns, in its fields' order.
CONTACT_COLUMNS = (
    Client.id,
    Client.first_name,
    Client.last_name,
    Client.cell_phone,
    Client.cell_phone_error,
    Client.sms_reminders,
    Client.sms_account,
    Client.sms_marketing,
)
_CONTACT = select(*CONTACT_COLUMNS)


def contacts_by_id(
    session: Session, business_id: int, ids: Iterable[int]
) -> dict[int, ClientContact]:
    """This business's clients among these ids (another business's are simply absent)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(_CONTACT.where(Client.business_id == business_id, Client.id.in_(wanted)))
    return {row.id: ClientContact(*row) for row in rows}


def contacts_by_cell_phone(
    session: Session, business_id: int, phones: Iterable[str]
) -> dict[str, list[ClientContact]]:
    """This business's clients with these cell phones (several may share one), by phone."""
    wanted = sorted(set(phones))
    found: dict[str, list[ClientContact]] = {}
    if not wanted:
        return found
    rows = session.execute(
        _CONTACT.where(Client.business_id == business_id, Client.cell_phone.in_(wanted)).order_by(
            Client.id
        )
    )
    for row in rows:
        assert row.cell_phone is not None
        found.setdefault(row.cell_phone, []).append(ClientContact(*row))
    return found
