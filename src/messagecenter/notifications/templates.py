"""Template text: its variables in square brackets ([Firstname]), checked when a template is
saved and filled in when a notification is sent. Nothing unrendered reaches a client: a
variable the data lacks refuses the send, naming it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from messagecenter.errors import InvalidInput
from messagecenter.notifications import formats
from messagecenter.notifications.catalogue import ALL_VARIABLES, NotificationType

# A variable: letters in square brackets. "[ ]" or "[10% off]" is text, not a variable.
VARIABLE = re.compile(r"\[([A-Za-z]+)\]")

# The trigger's data key each booking variable is filled from (the others come from the
# client's profile and the business).
DATA_KEYS = {
    "BookingDate": "booking_at",
    "BookingTime": "booking_at",
    "Service": "service",
    "StaffName": "staff_name",
    "Location": "location",
}


def variables_in(body: str) -> list[str]:
    """The bracketed names in a template, in order of first use."""
    return list(_parsed(body)[1])


@lru_cache(maxsize=256)
def _parsed(body: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template split once for every text it renders: its pieces (text, name, text, ...,
    text) and its names in order of first use."""
    pieces = tuple(VARIABLE.split(body))
    return pieces, tuple(dict.fromkeys(pieces[1::2]))


def check_template(kind: NotificationType, body: str, *, field: str = "body") -> None:
    """Refuse a template that uses a variable its type cannot have (unknown anywhere, or not
    for this type), listing the allowed ones."""
    if not body.strip():
        raise InvalidInput("Write the message this notification sends.", field=field)
    check_variables(body, kind.variables, f"a {kind.label.lower()}", field=field)


def check_variables(body: str, allowed: Sequence[str], where: str, *, field: str = "body") -> None:
    """Refuse a text that uses a variable not among `allowed` (`where` names the kind of text
    in the refusal: "a booking reminder", "a bulk send"), listing the allowed ones."""
    wrong = [name for name in variables_in(body) if name not in allowed]
    if not wrong:
        return
    listed = ", ".join(f"[{name}]" for name in allowed)
    described = []
    for name in wrong:
        if name in ALL_VARIABLES:
            described.append(f"[{name}] is not available in {where}")
        else:
            hint = _case_hint(name)
            described.append(f"[{name}] is not a variable{hint}")
    raise InvalidInput("; ".join(described) + f". Use only: {listed}.", field=field)


def _case_hint(name: str) -> str:
    for known in ALL_VARIABLES:
        if known.lower() == name.lower():
            return f" (did you mean [{known}]?)"
    return ""


@dataclass(frozen=True)
class Recipient:
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Sender:
    """What the business side of a text needs: its name, numbers, zone and country."""

    name: str
    business_phone: str
    sms_number: str
    timezone: str
    country: str


@dataclass(frozen=True)
class BookingData:
    """The trigger's data for the booking variables; None where the booking system gave none."""

    booking_at: datetime | None = None
    service: str | None = None
    staff_name: str | None = None
    location: str | None = None


def render(
    body: str, recipient: Recipient, business: Sender, data: BookingData, *, field: str = "data"
) -> str:
    """The template with every variable filled in. A variable the data lacks (or a blank
    value) refuses the send naming the variable and its data key; so does a value that
    itself holds a variable, which would otherwise reach the client raw."""
    pieces, names = _parsed(body)
    values: dict[str, str] = {}
    for name in names:
        value = _value(name, recipient, business, data)
        if value is None or not value.strip():
            key = DATA_KEYS.get(name)
            if key:
                where, source = f"{field}.{key}", f"the data has no {key}"
            elif name == "SmsNumber":
                where, source = (
                    "type",
                    "the business has no SMS number yet (choose one in Settings)",
                )
            elif name == "BusinessPhone":
                where, source = "type", "the business has no phone number on its profile"
            else:
                where, source = "client_id", "the client's profile has none"
            raise InvalidInput(
                f"The template uses [{name}] but {source}: nothing was sent.", field=where
            )
        values[name] = value.strip()
    text = "".join(piece if i % 2 == 0 else values[piece] for i, piece in enumerate(pieces))
    left = [name for name in VARIABLE.findall(text) if name in ALL_VARIABLES] if "[" in text else []
    if left:
        raise InvalidInput(
            f"A value holds [{left[0]}], which would reach the client unrendered: "
            "nothing was sent.",
            field=field,
        )
    return text


def _value(name: str, recipient: Recipient, business: Sender, data: BookingData) -> str | None:
    match name:
        case "Firstname":
            return recipient.first_name
        case "Lastname":
            return recipient.last_name
        case "Fullname":
            return f"{recipient.first_name} {recipient.last_name}".strip()
        case "BusinessName":
            return business.name
        case "BusinessPhone":
            return formats.phone(business.business_phone, business.country)
        case "SmsNumber":
            return formats.phone(business.sms_number, business.country)
        case "BookingDate" if data.booking_at is not None:
            return formats.booking_date(data.booking_at, business.timezone, business.country)
        case "BookingTime" if data.booking_at is not None:
            return formats.booking_time(data.booking_at, business.timezone, business.country)
        case "Service":
            return data.service
        case "StaffName":
            return data.staff_name
        case "Location":
            return data.location
    return None


def sample(body: str, business: Sender, at: datetime) -> str:
    """The template filled with sample data (the editor's preview)."""
    return render(
        body,
        Recipient("Maria", "Lopez"),
        business,
        BookingData(at, "Massage (60 min)", "Ana", "Main Street studio"),
    )
