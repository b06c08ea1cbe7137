"""JSON API: client profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from messagecenter.clients import queries, service
from messagecenter.clients.schemas import (
    ClientIn,
    ClientOut,
    ClientPage,
    ClientPatch,
    SubscriptionOut,
)
from messagecenter.consent import queries as consent_queries
from messagecenter.consent.service import consent_summary
from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath, OffsetQuery
from messagecenter.models import Client, PhoneConsent

router = APIRouter(prefix="/clients", tags=["clients"])


def client_out(client: Client, consent: PhoneConsent | None) -> ClientOut:
    return ClientOut(
        id=client.id,
        first_name=client.first_name,
        last_name=client.last_name,
        email=client.email,
        cell_phone=client.cell_phone,
        cell_phone_valid_for_sms=bool(client.cell_phone) and client.cell_phone_error is None,
        cell_phone_problem=(
            client.cell_phone_error or (None if client.cell_phone else "No cell phone on file")
        ),
        sms_reminders=client.sms_reminders,
        sms_account=client.sms_account,
        sms_marketing=client.sms_marketing,
        timezone=client.timezone,
        subscription=SubscriptionOut.model_validate(consent_summary(consent)),
        created_at=client.created_at,
        updated_at=client.updated_at,
    )


def _one(session: SessionDep, business_id: int, client: Client) -> ClientOut:
    consent = (
        consent_queries.consent_for(session, business_id, client.cell_phone)
        if client.cell_phone
        else None
    )
    return client_out(client, consent)


@router.get("", response_model=ClientPage)
def list_clients(
    session: SessionDep,
    business: BusinessDep,
    search: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> ClientPage:
    clients, total = queries.list_clients(
        session, business.id, search=search, limit=limit, offset=offset
    )
    phones = [c.cell_phone for c in clients if c.cell_phone]
    consents = consent_queries.consents_for(session, business.id, phones)
    items = [client_out(c, consents.get(c.cell_phone or "")) for c in clients]
    return ClientPage(items=items, total=total, limit=limit, offset=offset)


@router.post("", response_model=ClientOut, status_code=status.HTTP_201_CREATED)
def create_client(
    body: ClientIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> ClientOut:
    client = service.create_client(work.session, business, body.changes(), context.clock.now())
    return _one(work.session, business.id, client)


@router.get("/{client_id}", response_model=ClientOut)
def get_client(client_id: IdPath, session: SessionDep, business: BusinessDep) -> ClientOut:
    return _one(session, business.id, service.get_client(session, business.id, client_id))


@router.patch("/{client_id}", response_model=ClientOut)
def update_client(
    client_id: IdPath,
    body: ClientPatch,
    work: UnitOfWorkDep,
    business: BusinessDep,
    context: ContextDep,
) -> ClientOut:
    client = service.update_client(
        work.session, business, client_id, body.changes(), context.clock.now()
    )
    return _one(work.session, business.id, client)
