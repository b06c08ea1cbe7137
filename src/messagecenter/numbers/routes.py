"""JSON API: enabling Message Center with a suggested number, and changing it."""

from __future__ import annotations

from fastapi import APIRouter

from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.models import SmsNumber
from messagecenter.models.sms_number import NUMBER_ACTIVE
from messagecenter.numbers import queries, service
from messagecenter.numbers.countries import NUMBER_TYPE, number_country
from messagecenter.numbers.rates import send_rate
from messagecenter.numbers.schemas import (
    ChangeNumberIn,
    ChooseNumberIn,
    NumberPatch,
    NumbersOut,
    SmsNumberOut,
    SuggestionsOut,
)

router = APIRouter(prefix="/sms-number", tags=["sms number"])


def _out(number: SmsNumber) -> SmsNumberOut:
    return SmsNumberOut(
        phone_number=number.phone_number,
        country=number.country,
        status=number.status,
        carrier=number.carrier,
        carrier_handles_keywords=number.carrier_handles_keywords,
        send_rate=number.send_rate,
        effective_send_rate=send_rate(number.send_rate, number.phone_number, number.country),
        acquired_at=number.acquired_at,
        released_at=number.released_at,
    )


@router.get("", response_model=NumbersOut)
def get_numbers(session: SessionDep, business: BusinessDep) -> NumbersOut:
    numbers = queries.numbers_of(session, business.id)
    active = next((n for n in numbers if n.status == NUMBER_ACTIVE), None)
    return NumbersOut(active=_out(active) if active else None, history=[_out(n) for n in numbers])


@router.get("/suggestions", response_model=SuggestionsOut)
def get_suggestions(
    session: SessionDep, business: BusinessDep, context: ContextDep
) -> SuggestionsOut:
    """Numbers the business may choose from, near its business phone."""
    country = number_country(business.country)
    return SuggestionsOut(
        country=country,
        number_type=NUMBER_TYPE[country],
        suggestions=service.suggest_numbers(session, business, context.carrier),
    )


@router.post("", response_model=SmsNumberOut, status_code=201)
def enable(
    body: ChooseNumberIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> SmsNumberOut:
    """Enable Message Center with one of the suggested numbers (a business that already has
    a number keeps it)."""
    number = service.enable_messaging(
        work.session,
        business,
        context.carrier,
        body.phone_number,
        context.settings.public_url,
        context.clock.now(),
        on_rollback=work.on_rollback,
    )
    return _out(number)


@router.post("/change", response_model=SmsNumberOut)
def change(
    body: ChangeNumberIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> SmsNumberOut:
    """Change to another suggested number. Without `confirm: true` it answers 409 with the
    warning and changes nothing."""
    number = service.change_number(
        work.session,
        business,
        context.carrier,
        body.phone_number,
        context.settings.public_url,
        context.clock.now(),
        confirmed=body.confirm,
        on_rollback=work.on_rollback,
    )
    return _out(number)


@router.patch("", response_model=SmsNumberOut)
def change_number_settings(
    body: NumberPatch, work: UnitOfWorkDep, business: BusinessDep
) -> SmsNumberOut:
    """The active number's settings, each one given: who answers STOP, START and HELP — the
    carrier (`carrier_handles_keywords: true`, Twilio's default) or the app, with the
    business's own keyword texts (false: switch Twilio's automatic answers off for the
    number first) — and `send_rate`, the texts a second it may send (null: its type's
    default; `effective_send_rate` answers what applies)."""
    number = service.active(work.session, business)
    if body.carrier_handles_keywords is not None:
        number = service.set_keyword_answers(
            work.session, business, by_app=not body.carrier_handles_keywords
        )
    if "send_rate" in body.model_fields_set:
        number = service.set_send_rate(work.session, business, body.send_rate)
    return _out(number)
