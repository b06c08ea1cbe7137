"""The All Clients report: contact details, whether the cell phone can take texts (and why
not), SMS subscription state and the last message, with filters, search and paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from messagecenter.clients.queries import matches_search
from messagecenter.models import Client, Conversation, PhoneConsent

ReportFilter = Literal["all", "no_valid_cell_phone", "unsubscribed"]


@dataclass(frozen=True)
class ClientRow:
    client: Client
    sms_problem: str | None  # why texts cannot reach this client, or None
    opted_out: bool
    opted_out_at: datetime | None
    opt_out_keyword: str | None
    last_message_at: datetime | None
    conversation_id: int | None


def client_report(
    session: Session,
    business_id: int,
    *,
    show: ReportFilter = "all",
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ClientRow], int]:
    consent_join = and_(
        PhoneConsent.business_id == Client.business_id, PhoneConsent.phone == Client.cell_phone
    )
    conversation_join = and_(
        Conversation.business_id == Client.business_id, Conversation.phone == Client.cell_phone
    )
    stmt = (
        select(
            Client,
            PhoneConsent,
            Conversation.id,
            Conversation.last_message_at,
            Conversation.last_message_preview,
        )
        .outerjoin(PhoneConsent, consent_join)
        .outerjoin(Conversation, conversation_join)
        .where(Client.business_id == business_id)
    )
    if show == "no_valid_cell_phone":
        stmt = stmt.where(or_(Client.cell_phone.is_(None), Client.cell_phone_error.is_not(None)))
    elif show == "unsubscribed":
        stmt = stmt.where(PhoneConsent.opted_out.is_(True))
    if search and search.strip():
        stmt = stmt.where(matches_search(search))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Client.last_name, Client.first_name, Client.id).limit(limit).offset(offset)
    ).all()
    # A conversation opened from a profile has no message yet (and so no preview).
    return [
        _row(client, consent, cid, last if preview else None)
        for client, consent, cid, last, preview in rows
    ], int(total)


def _row(
    client: Client, consent: PhoneConsent | None, conversation_id: int | None, last: datetime | None
) -> ClientRow:
    if not client.cell_phone:
        problem: str | None = "No cell phone on file"
    else:
        problem = client.cell_phone_error
    opted_out = bool(consent and consent.opted_out)
    return ClientRow(
        client=client,
        sms_problem=problem,
        opted_out=opted_out,
        opted_out_at=consent.changed_at if consent and opted_out else None,
        opt_out_keyword=consent.keyword if consent and opted_out else None,
        last_message_at=last,
        conversation_id=conversation_id,
    )
