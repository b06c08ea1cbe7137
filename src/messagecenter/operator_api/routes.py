"""The operator API: a business's plan, read and changed by the service's operator.

Authenticated by MESSAGECENTER_OPERATOR_TOKEN as a bearer token, never by a business's API
key: a business cannot change its own plan. With the setting unset the API is switched off
and every route answers 404 saying so. Each change is recorded with the name the caller gives
in the `Operator-Name` header (the token is shared; the name says which person used it), or
"operator-token" without one. Left out of the business API's OpenAPI document.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from messagecenter.apikeys.service import KEY_PREFIX
from messagecenter.businesses import plans, usage
from messagecenter.businesses.plans import ChangedBy, PlanEdit
from messagecenter.errors import NotAuthenticated, NotFound
from messagecenter.http.deps import ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.models import Business, PlanChange
from messagecenter.models.business import CHANGED_VIA_API

# Recorded as the operator when the caller names no one.
UNNAMED_OPERATOR = "operator-token"

router = APIRouter(prefix="/api/operator/v1", tags=["operator"], include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)


def operator_name(
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    name: Annotated[
        str | None, Header(alias="Operator-Name", max_length=plans.MAX_NAME_LENGTH)
    ] = None,
) -> str:
    """Who is calling, once the operator token checks out."""
    token = context.settings.operator_token
    if not token:
        raise NotFound(
            "The operator API is switched off: set MESSAGECENTER_OPERATOR_TOKEN to turn it on.",
            code="operator_api_off",
        )
    given = credentials.credentials.strip() if credentials else ""
    if not given:
        raise NotAuthenticated("Send the operator token as 'Authorization: Bearer <token>'.")
    if not hmac.compare_digest(given.encode(), token.encode()):
        if given.startswith(KEY_PREFIX):
            raise NotAuthenticated(
                "A business's API key cannot use the operator API: send the operator token."
            )
        raise NotAuthenticated("That is not the operator token.")
    return (name or "").strip() or UNNAMED_OPERATOR


OperatorDep = Annotated[str, Depends(operator_name)]
BusinessId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the business's id")]


class PlanTermsOut(BaseModel):
    monthly_allowance: int
    overage_policy: str
    overage_price_per_unit: Decimal
    currency: str
    monthly_spending_cap: Decimal | None
    send_limit: int | None  # units past which sends are refused this period; None: never
    overage_price_text: str  # as the business's locale writes it, currency shown
    monthly_spending_cap_text: str | None


class PeriodOut(BaseModel):
    period_start: date
    period_end: date
    used: int
    overage_units: int
    overage_cost: Decimal
    overage_cost_text: str
    warning: int | None


class PlanChangeOut(BaseModel):
    id: int
    changed_at: datetime
    changed_by: str
    changed_via: str
    note: str
    before: dict[str, Any]
    after: dict[str, Any]


class PlanOut(BaseModel):
    business_id: int
    business_name: str
    plan: PlanTermsOut
    current_period: PeriodOut
    history: list[PlanChangeOut]  # newest first
    changed: bool | None = None  # PATCH: whether the terms changed (False: already so)


class PlanPatch(BaseModel):
    """The terms to change; a term left out stays as it is. A spending cap of null lifts it."""

    model_config = ConfigDict(extra="forbid")

    monthly_allowance: int | None = Field(default=None, strict=True)
    overage_policy: Literal["hard_stop", "allow_overage"] | None = None
    overage_price_per_unit: Decimal | None = None
    currency: str | None = Field(default=None, max_length=3)
    monthly_spending_cap: Decimal | None = None
    note: str = Field(default="", max_length=plans.MAX_NOTE_LENGTH)


def _business(session: SessionDep, business_id: BusinessId) -> Business:
    business = session.get(Business, business_id)
    if business is None:
        raise NotFound(f"There is no business {business_id}.")
    return business


def _plan_out(
    session: SessionDep, context: ContextDep, business: Business, changed: bool | None = None
) -> PlanOut:
    summary = usage.summarize(session, business, context.clock.now())
    return PlanOut(
        business_id=business.id,
        business_name=business.name,
        plan=PlanTermsOut(
            monthly_allowance=summary.allowance,
            overage_policy=summary.overage_policy,
            overage_price_per_unit=summary.overage_price_per_unit,
            currency=summary.currency,
            monthly_spending_cap=summary.spending_cap,
            send_limit=summary.send_limit,
            overage_price_text=summary.price_text,
            monthly_spending_cap_text=summary.spending_cap_text,
        ),
        current_period=PeriodOut.model_validate(summary, from_attributes=True),
        history=[_change_out(c) for c in plans.plan_history(session, business.id)],
        changed=changed,
    )


def _change_out(change: PlanChange) -> PlanChangeOut:
    return PlanChangeOut.model_validate(change, from_attributes=True)


@router.get("/businesses/{business_id}/plan", response_model=PlanOut)
def get_plan(
    session: SessionDep, context: ContextDep, _operator: OperatorDep, business_id: BusinessId
) -> PlanOut:
    """The business's plan, this period's usage against it, and the plan's changes."""
    return _plan_out(session, context, _business(session, business_id))


@router.patch("/businesses/{business_id}/plan", response_model=PlanOut)
def patch_plan(
    work: UnitOfWorkDep,
    context: ContextDep,
    operator: OperatorDep,
    business_id: BusinessId,
    patch: PlanPatch,
) -> PlanOut:
    """Change the plan at once (the next send of this period is judged by it), recorded with
    the operator's name, the terms before and after, and the note."""
    session = work.session
    business = _business(session, business_id)
    given = patch.model_fields_set
    edit = PlanEdit(
        monthly_allowance=patch.monthly_allowance,
        overage_policy=patch.overage_policy,
        overage_price_per_unit=patch.overage_price_per_unit,
        currency=patch.currency,
        monthly_spending_cap=patch.monthly_spending_cap,
        remove_spending_cap="monthly_spending_cap" in given and patch.monthly_spending_cap is None,
    )
    by = ChangedBy(operator, CHANGED_VIA_API, patch.note)
    change = plans.change_plan(session, business, edit, by, context.clock.now())
    return _plan_out(session, context, business, changed=change is not None)
