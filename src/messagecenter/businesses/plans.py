"""A business's plan: its terms checked, changed by an operator, and every change recorded.

A change takes effect at once: the allowance check (usage.py) reads the plan on each send,
so the next send of the current period is judged by the new terms, and the warnings by the
new figures. Each change writes who made it, when, through which door (CLI or operator API)
and the terms before and after, in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from messagecenter.businesses import billing, money, queries
from messagecenter.errors import InvalidInput
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Business, Plan, PlanChange
from messagecenter.models.business import OVERAGE_POLICIES

MAX_ALLOWANCE = 2**31 - 1  # the plans column is a 32-bit INTEGER
MAX_NAME_LENGTH = 100  # plan_changes.changed_by
MAX_NOTE_LENGTH = 500  # plan_changes.note
HISTORY_SHOWN = 50  # the newest changes a plan's page, API answer or CLI output lists


@dataclass(frozen=True)
class PlanTerms:
    """What a plan promises: the figures the allowance check and the bill read."""

    monthly_allowance: int
    overage_policy: str
    overage_price_per_unit: Decimal
    currency: str
    monthly_spending_cap: Decimal | None = None

    @classmethod
    def of(cls, plan: Plan) -> PlanTerms:
        return cls(
            monthly_allowance=plan.monthly_allowance,
            overage_policy=plan.overage_policy,
            overage_price_per_unit=plan.overage_price_per_unit,
            currency=plan.currency,
            monthly_spending_cap=plan.monthly_spending_cap,
        )

    def as_record(self) -> dict[str, Any]:
        """For plan_changes' JSON: amounts as strings with the column's 4 places, as the plan
        holds them (0.05 given is "0.0500", like the 0.0500 it replaces)."""
        cap = self.monthly_spending_cap
        return {
            "monthly_allowance": self.monthly_allowance,
            "overage_policy": self.overage_policy,
            "overage_price_per_unit": _as_column(self.overage_price_per_unit),
            "currency": self.currency,
            "monthly_spending_cap": None if cap is None else _as_column(cap),
        }

    def differs_in(self, other: PlanTerms) -> list[str]:
        """The names of the terms that differ (amounts compared as numbers: 0.05 = 0.0500)."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _as_column(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.0001")))


def check_terms(terms: PlanTerms) -> PlanTerms:
    """The terms as stored (currency upper case), or InvalidInput naming the first bad one."""
    if terms.monthly_allowance < 0:
        raise InvalidInput("The allowance cannot be negative.", field="monthly_allowance")
    if terms.monthly_allowance > MAX_ALLOWANCE:
        raise InvalidInput(
            f"The allowance can be at most {MAX_ALLOWANCE} messages a month.",
            field="monthly_allowance",
        )
    if terms.overage_policy not in OVERAGE_POLICIES:
        raise InvalidInput(
            "The overage policy must be one of: " + ", ".join(OVERAGE_POLICIES),
            field="overage_policy",
        )
    money.check_amount(
        terms.overage_price_per_unit,
        field="overage_price_per_unit",
        what="overage price",
        maximum=money.MAX_PRICE,
    )
    if terms.monthly_spending_cap is not None:
        money.check_amount(
            terms.monthly_spending_cap,
            field="monthly_spending_cap",
            what="monthly spending cap",
            maximum=money.MAX_SPENDING_CAP,
        )
    return replace(terms, currency=money.check_currency(terms.currency))


def new_plan(terms: PlanTerms, at: datetime) -> Plan:
    """A plan row for checked terms (create_business adds it)."""
    return Plan(
        name=f"{terms.monthly_allowance} messages a month",
        monthly_allowance=terms.monthly_allowance,
        overage_policy=terms.overage_policy,
        overage_price_per_unit=terms.overage_price_per_unit,
        currency=terms.currency,
        monthly_spending_cap=terms.monthly_spending_cap,
        created_at=at,
    )


@dataclass(frozen=True)
class PlanEdit:
    """An operator's change: None leaves a term as it is; `remove_spending_cap` lifts the
    cap (a cap of None cannot say it)."""

    monthly_allowance: int | None = None
    overage_policy: str | None = None
    overage_price_per_unit: Decimal | None = None
    currency: str | None = None
    monthly_spending_cap: Decimal | None = None
    remove_spending_cap: bool = False

    def is_empty(self) -> bool:
        return not self.remove_spending_cap and all(
            getattr(self, f.name) is None for f in fields(self) if f.name != "remove_spending_cap"
        )

    def applied_to(self, terms: PlanTerms) -> PlanTerms:
        cap = self.monthly_spending_cap
        return PlanTerms(
            monthly_allowance=_given(self.monthly_allowance, terms.monthly_allowance),
            overage_policy=_given(self.overage_policy, terms.overage_policy),
            overage_price_per_unit=_given(
                self.overage_price_per_unit, terms.overage_price_per_unit
            ),
            currency=_given(self.currency, terms.currency),
            monthly_spending_cap=None
            if self.remove_spending_cap
            else _given(cap, terms.monthly_spending_cap),
        )


_T = TypeVar("_T")


def _given(value: _T | None, current: _T) -> _T:
    return current if value is None else value


@dataclass(frozen=True)
class ChangedBy:
    """Who changed a plan and through which door (models.business CHANGED_VIA_*)."""

    name: str
    via: str
    note: str = ""


def check_changed_by(changed_by: ChangedBy) -> ChangedBy:
    name = changed_by.name.strip()
    if not name:
        raise InvalidInput("Name who is changing the plan (e.g. alice@ops).", field="by")
    if len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(
            f"The operator's name must be printable and at most {MAX_NAME_LENGTH} characters.",
            field="by",
        )
    note = changed_by.note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"The note can be at most {MAX_NOTE_LENGTH} characters.", field="note")
    return ChangedBy(name, changed_by.via, note)


def change_plan(
    session: Session, business: Business, edit: PlanEdit, changed_by: ChangedBy, at: datetime
) -> PlanChange | None:
    """Apply an operator's change to the business's plan and record it; None when the new
    terms equal the old (nothing is written). Bad terms are refused before anything changes.

    The plan row is locked first, so two operators' changes are recorded one after the other,
    each `before` being the previous `after`."""
    if edit.is_empty():
        raise InvalidInput(
            "Give at least one term to change: allowance, overage policy, overage price, "
            "currency or spending cap.",
            field="plan",
        )
    changed_by = check_changed_by(changed_by)
    plan = queries.get_plan_for_update(session, business.plan_id)
    before = PlanTerms.of(plan)
    after = check_terms(edit.applied_to(before))
    if not after.differs_in(before):
        return None
    if queries.businesses_on_plan(session, plan.id) > 1:
        # The row is shared: the change is this business's alone, on a copy of its own.
        plan = new_plan(before, at)
        session.add(plan)
        session.flush()
        business.plan_id = plan.id
    plan.monthly_allowance = after.monthly_allowance
    plan.overage_policy = after.overage_policy
    plan.overage_price_per_unit = after.overage_price_per_unit
    plan.currency = after.currency
    plan.monthly_spending_cap = after.monthly_spending_cap
    plan.name = f"{after.monthly_allowance} messages a month"
    change = PlanChange(
        business_id=business.id,
        plan_id=plan.id,
        changed_at=at,
        changed_by=changed_by.name,
        changed_via=changed_by.via,
        note=changed_by.note,
        before=before.as_record(),
        after=after.as_record(),
    )
    session.add(change)
    session.flush()
    _warn_if_now_past(session, business, before, after, at)
    return change


def _warn_if_now_past(
    session: Session, business: Business, before: PlanTerms, after: PlanTerms, at: datetime
) -> None:
    """A lowered allowance or cap can put this period's usage past 80 % or 100 % at once:
    the business is warned as a send crossing it would have warned it."""
    used = queries.units_used(session, business.id, billing.period_start(at, business.timezone))
    old_limit = billing.warning_limit(*_figures(before))
    new_limit = billing.warning_limit(*_figures(after))
    old = billing.warning_level(used, old_limit)
    new = billing.warning_level(used, new_limit)
    if new is None or (old is not None and new <= old):
        return
    data = {"percent": new, "used": used, "allowance": after.monthly_allowance}
    if new_limit != after.monthly_allowance:
        data["limit"] = new_limit
    queue_event_on_commit(session, LiveEvent(business.id, "usage.warning", data))


def _figures(terms: PlanTerms) -> tuple[int, str, Decimal, Decimal | None]:
    return (
        terms.monthly_allowance,
        terms.overage_policy,
        terms.overage_price_per_unit,
        terms.monthly_spending_cap,
    )


def plan_history(session: Session, business_id: int) -> list[PlanChange]:
    """The business's plan changes, newest first (at most HISTORY_SHOWN)."""
    return queries.plan_changes(session, business_id, HISTORY_SHOWN)
