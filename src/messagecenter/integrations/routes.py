"""JSON API: a business's webhook endpoints, their delivery log, and "send again"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath, OptionalIdQuery
from messagecenter.integrations import service
from messagecenter.integrations.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointCreated,
    EndpointIn,
    EndpointList,
    EndpointOut,
)
from messagecenter.models import WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks"])


@router.post("", response_model=EndpointCreated, status_code=status.HTTP_201_CREATED)
def create_endpoint(
    body: EndpointIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> EndpointCreated:
    """Register an endpoint for some events. The answer carries its `secret`, shown only
    here. Refused (400): not an http(s) URL, a host that cannot be found or that is at a
    private, loopback or reserved address (unless the operator allows them)."""
    endpoint, secret = service.create_endpoint(
        work.session,
        business.id,
        url=body.url,
        events=body.events,
        description=body.description,
        at=context.clock.now(),
        allow_private=context.settings.webhooks_allow_private,
    )
    return EndpointCreated(**endpoint_out(endpoint).model_dump(), secret=secret)


@router.get("", response_model=EndpointList)
def list_endpoints(session: SessionDep, business: BusinessDep) -> EndpointList:
    return EndpointList(
        items=[endpoint_out(e) for e in service.list_endpoints(session, business.id)]
    )


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: IdPath, session: SessionDep, business: BusinessDep) -> EndpointOut:
    return endpoint_out(service.get_endpoint(session, business.id, endpoint_id))


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_endpoint(
    endpoint_id: IdPath, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> Response:
    """Stop sending to it; deliveries not yet made are cancelled."""
    service.delete_endpoint(work.session, business.id, endpoint_id, context.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    endpoint_id: IdPath,
    session: SessionDep,
    business: BusinessDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: OptionalIdQuery = None,
) -> DeliveryPage:
    """The delivery log, newest first (`before_id` pages back)."""
    found = service.deliveries(session, business.id, endpoint_id, limit=limit, before_id=before_id)
    return DeliveryPage(items=[delivery_out(d) for d in found])


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def send_again(
    endpoint_id: IdPath,
    delivery_id: IdPath,
    work: UnitOfWorkDep,
    business: BusinessDep,
    context: ContextDep,
) -> DeliveryOut:
    """Send it again now (the same event id and body), retried for another 24 hours."""
    delivery = service.send_again(
        work.session, business.id, endpoint_id, delivery_id, context.clock.now()
    )
    return delivery_out(delivery)


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=list(endpoint.events),
        created_at=endpoint.created_at,
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery, from_attributes=True)
