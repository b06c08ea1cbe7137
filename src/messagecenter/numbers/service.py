"""The business's SMS number: chosen from the carrier's suggestions, changed with a warning.

Only a number just suggested can be chosen (not the business phone, not a personal number).
Changing it releases the old number at the carrier; texts still arriving for it are recorded
as unrouted, attached to no business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.carriers.base import Carrier, CarrierError
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.models import Business, SmsNumber
from messagecenter.models.sms_number import NUMBER_ACTIVE, NUMBER_RELEASED
from messagecenter.numbers import queries, rates
from messagecenter.numbers.countries import number_country

log = logging.getLogger(__name__)

# Registers what undoes a step outside the database should the transaction not commit (the
# edge's UnitOfWork.on_rollback); by default nothing does.
OnRollback = Callable[[Callable[[], None]], None]


def _nothing(_undo: Callable[[], None]) -> None:
    return None


SUGGESTION_COUNT = 5


def suggest_numbers(session: Session, business: Business, carrier: Carrier) -> list[str]:
    """Numbers near the business phone (its area code in the US and Canada; mobile numbers in
    the UK and Australia) that no business here holds or held, as the carrier offers them."""
    country = number_country(business.country)
    offered = carrier.suggest_numbers(country, business.business_phone, SUGGESTION_COUNT * 4)
    # Held or once held here: a released number is not offered again, so texts still
    # arriving for it stay unrouted rather than reaching a new owner.
    taken = queries.held_here(session, [n.phone_number for n in offered])
    taken.add(business.business_phone)  # never the business's own phone
    return [n.phone_number for n in offered if n.phone_number not in taken][:SUGGESTION_COUNT]


def enable_messaging(
    session: Session,
    business: Business,
    carrier: Carrier,
    chosen: str,
    public_url: str,
    at: datetime,
    on_rollback: OnRollback = _nothing,
) -> SmsNumber:
    """Give the business the number it chose; only a number just suggested is accepted.

    A business that already has an active number keeps it.
    """
    existing = business_queries.active_number(session, business.id)
    if existing is not None:
        return existing
    return _take(session, business, carrier, chosen, public_url, at, on_rollback=on_rollback)


def change_warning(old_number: str) -> str:
    return (
        f"After the change, replies that clients send to {old_number} will not reach you: the "
        "number is released and texts to it are not delivered to the business. Conversations "
        "continue from the new number; tell clients who saved the old one."
    )


def change_number(
    session: Session,
    business: Business,
    carrier: Carrier,
    chosen: str,
    public_url: str,
    at: datetime,
    *,
    confirmed: bool,
    on_rollback: OnRollback = _nothing,
) -> SmsNumber:
    """Move the business to `chosen` (a suggested number) and release the old one.

    Needs `confirmed` after the warning; without it nothing changes (409).
    """
    old = business_queries.active_number(session, business.id)
    if old is None:
        raise NotFound("This business has no SMS number yet: enable Message Center first.")
    if not confirmed:
        raise Conflict(change_warning(old.phone_number), code="confirmation_required")
    old.status = NUMBER_RELEASED
    old.released_at = at
    session.flush()  # frees the one-active-number-per-business slot
    new = _take(
        session,
        business,
        carrier,
        chosen,
        public_url,
        at,
        carrier_handles_keywords=old.carrier_handles_keywords,
        on_rollback=on_rollback,
    )
    if old.carrier_sid:
        try:
            carrier.release_number(old.carrier_sid)
        except CarrierError as exc:  # released here regardless: routing follows our records
            log.error("could not release %s at the carrier: %s", old.phone_number, exc)
    return new


def _take(
    session: Session,
    business: Business,
    carrier: Carrier,
    chosen: str,
    public_url: str,
    at: datetime,
    *,
    carrier_handles_keywords: bool = True,
    on_rollback: OnRollback = _nothing,
) -> SmsNumber:
    chosen = chosen.strip()
    if chosen not in suggest_numbers(session, business, carrier):
        raise InvalidInput(
            f"{chosen or 'That'} is not one of the numbers offered: choose one of the "
            "suggested numbers (the business phone or a personal number cannot be used).",
            field="phone_number",
        )
    carrier_sid = carrier.acquire_number(chosen, carrier.sms_webhook_url(public_url))
    # Bought: if the row recording it is not committed, the number goes back to the carrier.
    on_rollback(lambda: carrier.release_number(carrier_sid))
    number = SmsNumber(
        business_id=business.id,
        phone_number=chosen,
        country=number_country(business.country),
        carrier=carrier.name,
        carrier_sid=carrier_sid,
        status=NUMBER_ACTIVE,
        carrier_handles_keywords=carrier_handles_keywords,
        acquired_at=at,
    )
    session.add(number)
    session.flush()
    return number


def active(session: Session, business: Business) -> SmsNumber:
    """The business's active number; NotFound before it has one."""
    number = business_queries.active_number(session, business.id)
    if number is None:
        raise NotFound("This business has no SMS number yet: enable Message Center first.")
    return number


def set_send_rate(session: Session, business: Business, rate: int | None) -> SmsNumber:
    """How many texts a second the business's number may send (None: its type's default);
    the dispatcher keeps to it from its next claim."""
    number = active(session, business)
    number.send_rate = None if rate is None else rates.checked_send_rate(rate)
    session.flush()
    return number


def set_keyword_answers(session: Session, business: Business, *, by_app: bool) -> SmsNumber:
    """Who answers STOP, START and HELP on the business's number: the carrier (its automatic
    answers, Twilio's default) or the app (the business's own wording; the operator has
    switched the carrier's answers off). The next number taken keeps the choice."""
    number = business_queries.active_number(session, business.id)
    if number is None:
        raise NotFound("This business has no SMS number yet: enable Message Center first.")
    number.carrier_handles_keywords = not by_app
    session.flush()
    return number
