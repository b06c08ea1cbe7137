"""JSON API: the business's usage and unread badge."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from messagecenter.businesses import usage
from messagecenter.conversations import queries as conversation_queries
from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep

router = APIRouter(tags=["business"])


class UsageOut(BaseModel):
    period_start: date
    period_end: date
    allowance: int
    used: int
    remaining: int
    inbound_units: int
    outbound_units: int
    overage_units: int
    overage_cost: Decimal
    overage_policy: str
    warning: int | None  # 80 or 100: percent of warning_limit reached
    currency: str  # ISO 4217: overage_cost, the price and the cap are in it
    overage_price_per_unit: Decimal
    spending_cap: Decimal | None  # at most this much overage a month; None: no cap
    send_limit: int | None  # units past which sends are refused this period; None: never
    warning_limit: int  # the allowance, or the units the spending cap allows


class UnreadOut(BaseModel):
    unread: int


@router.get("/usage", response_model=UsageOut)
def get_usage(session: SessionDep, business: BusinessDep, context: ContextDep) -> UsageOut:
    summary = usage.summarize(session, business, context.clock.now())
    return UsageOut.model_validate(summary, from_attributes=True)


@router.get("/unread", response_model=UnreadOut)
def get_unread(session: SessionDep, business: BusinessDep) -> UnreadOut:
    return UnreadOut(unread=conversation_queries.business_unread(session, business.id))
