"""Client profiles: names, email, a validated cell phone and SMS category switches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from messagecenter.clients import queries
from messagecenter.clients.phone import parse_cell_phone
from messagecenter.consent import queries as consent_queries
from messagecenter.conversations import queries as conversation_queries
from messagecenter.errors import InvalidInput, NotFound
from messagecenter.models import Business, Client, PhoneConsent

_UNSET = object()


@dataclass(frozen=True)
class ClientChanges:
    """Fields to set; None leaves a field as it is. cell_phone "" clears the number."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    cell_phone: str | None = None
    sms_reminders: bool | None = None
    sms_account: bool | None = None
    sms_marketing: bool | None = None
    timezone: str | None = None  # an IANA name; "" clears it (the number's zones then)


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    """The IANA time zone names a profile may hold, sorted (for the form's list too)."""
    return sorted(available_timezones())


def create_client(
    session: Session, business: Business, changes: ClientChanges, at: datetime
) -> Client:
    if not (changes.first_name or "").strip():
        raise InvalidInput("Enter the client's first name.", field="first_name")
    client = Client(
        business_id=business.id,
        first_name="",
        last_name="",
        sms_reminders=True,
        sms_account=True,
        sms_marketing=False,
        created_at=at,
        updated_at=at,
    )
    _apply(client, business, changes)
    session.add(client)
    session.flush()
    _link_conversation(session, client)
    return client


def update_client(
    session: Session, business: Business, client_id: int, changes: ClientChanges, at: datetime
) -> Client:
    client = get_client(session, business.id, client_id)
    _apply(client, business, changes)
    client.updated_at = at
    session.flush()
    _link_conversation(session, client)
    return client


@dataclass(frozen=True)
class SharedPhone:
    """Another client already has the cell phone being saved. Consent belongs to the number,
    so what it says holds for both clients: a STOP from that phone stops texts to each."""

    cell_phone: str  # E.164
    holders: list[Client]  # by name; the first is the one the warning names
    consent: PhoneConsent | None  # None: never changed, so subscribed


def shared_cell_phone(
    session: Session, business: Business, raw: str, client_id: int | None = None
) -> SharedPhone | None:
    """Whether saving `raw` as the cell phone of client `client_id` (None: a new client)
    gives it a number other clients already have. None too when the number is not valid (the
    save refuses it, saying why) or is the one the client already had."""
    if not raw.strip():
        return None
    try:
        phone = parse_cell_phone(raw, business.country)
    except InvalidInput:
        return None
    if client_id is not None:
        current = queries.get_client(session, business.id, client_id)
        if current is not None and current.cell_phone == phone:
            return None  # not a change: it was asked about when it was saved
    holders = queries.clients_by_cell_phone(session, business.id, phone, excluding=client_id)
    if not holders:
        return None
    return SharedPhone(phone, holders, consent_queries.consent_for(session, business.id, phone))


def _link_conversation(session: Session, client: Client) -> None:
    if client.cell_phone:
        conversation_queries.link_conversations_to_client(
            session, client.business_id, client.cell_phone, client.id
        )


def get_client(session: Session, business_id: int, client_id: int) -> Client:
    client = queries.get_client(session, business_id, client_id)
    if client is None:
        raise NotFound("No such client.")
    return client


def _apply(client: Client, business: Business, changes: ClientChanges) -> None:
    # Validate everything first, so a bad field changes nothing.
    first = _name(changes.first_name, "first_name") if changes.first_name is not None else None
    last = changes.last_name.strip()[:100] if changes.last_name is not None else None
    email = _email(changes.email) if changes.email is not None else None
    zone = _time_zone(changes.timezone) if changes.timezone is not None else None
    phone: str | object | None = _UNSET
    if changes.cell_phone is not None:
        phone = (
            parse_cell_phone(changes.cell_phone, business.country)
            if changes.cell_phone.strip()
            else None
        )
    if first is not None:
        client.first_name = first
    if last is not None:
        client.last_name = last
    if changes.email is not None:
        client.email = email
    if phone is not _UNSET:
        assert phone is None or isinstance(phone, str)
        if phone != client.cell_phone:
            client.cell_phone_error = None  # a new number gets a fresh chance
        client.cell_phone = phone
    if changes.timezone is not None:
        client.timezone = zone
    for switch in ("sms_reminders", "sms_account", "sms_marketing"):
        value = getattr(changes, switch)
        if value is not None:
            setattr(client, switch, value)


def _name(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput("Enter the client's first name.", field=field)
    if len(value) > 100:
        raise InvalidInput("Names are at most 100 characters.", field=field)
    return value


def _time_zone(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if value not in set(time_zones()):
        raise InvalidInput(
            f"{value[:64]!r} is not a time zone: use an IANA name such as America/New_York or "
            "Europe/London, or leave it empty to judge it from the cell phone number.",
            field="timezone",
        )
    return value


def _email(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    local, _, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 254 or " " in value:
        raise InvalidInput(f"{value!r} is not an email address.", field="email")
    return value.lower()
