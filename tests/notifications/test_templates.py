"""Templates: checked when saved (unknown variables, or ones the type cannot have), filled
when sent (a missing value refuses the send, naming it; nothing unrendered gets out)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from messagecenter.errors import InvalidInput
from messagecenter.notifications.catalogue import TYPES
from messagecenter.notifications.templates import (
    BookingData,
    Recipient,
    Sender,
    check_template,
    render,
    variables_in,
)

NY = Sender("Glow Spa", "+12125550100", "+12125550101", "America/New_York", "US")
LONDON = Sender("Glow Spa", "+442079460000", "+447700900123", "Europe/London", "GB")
MARIA = Recipient("Maria", "Lopez")
BOOKING = BookingData(datetime(2026, 11, 17, 20, 0, tzinfo=UTC), "Massage", "Ana", "Main St")


def test_variables_are_bracketed_names_in_order_of_first_use() -> None:
    assert variables_in("[Firstname], [Service] at [BookingTime]; [Firstname] [ ] [10%]") == [
        "Firstname",
        "Service",
        "BookingTime",
    ]


def test_an_unknown_variable_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_template(TYPES["booking_reminder"], "Hi [FirstName], see you [When]")
    message = refused.value.message
    assert refused.value.field == "body"
    assert "[FirstName] is not a variable (did you mean [Firstname]?)" in message
    assert "[When] is not a variable" in message
    assert "[BookingTime]" in message and "[Location]" in message  # the allowed list


def test_a_variable_the_type_cannot_have_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_template(TYPES["welcome"], "Welcome [Firstname], see you at [BookingTime]")
    assert "[BookingTime] is not available in a welcome" in refused.value.message
    assert "[BookingTime]" not in refused.value.message.split("Use only:")[1]


def test_an_empty_template_is_refused() -> None:
    with pytest.raises(InvalidInput):
        check_template(TYPES["welcome"], "   ")


def test_rendering_fills_every_variable_in_the_business_s_zone_and_format() -> None:
    body = (
        "[BusinessName] ([BusinessPhone], [SmsNumber]): [Fullname], [Lastname]: [Service] with "
        "[StaffName] at [Location] on [BookingDate] at [BookingTime]"
    )
    assert render(body, MARIA, NY, BOOKING) == (
        "Glow Spa ((212) 555-0100, (212) 555-0101): Maria Lopez, Lopez: Massage with Ana at "
        "Main St on Tue, Nov 17 at 3:00 PM"
    )
    assert render("[BookingDate] [BookingTime]", MARIA, LONDON, BOOKING) == "Tue 17 Nov 20:00"


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("[BookingTime]", "data.booking_at"),
        ("[Service]", "data.service"),
        ("[StaffName]", "data.staff_name"),
        ("[Location]", "data.location"),
    ],
)
def test_a_missing_value_refuses_the_send_naming_the_variable(variable: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        render(f"Hi [Firstname], {variable}", MARIA, NY, BookingData())
    assert refused.value.field == field
    assert variable in refused.value.message


def test_a_blank_profile_name_refuses_rather_than_sending_a_gap() -> None:
    with pytest.raises(InvalidInput) as refused:
        render("Dear [Lastname]", Recipient("Maria", ""), NY, BOOKING)
    assert refused.value.field == "client_id"


def test_a_business_without_an_sms_number_is_told_so_not_blamed_on_the_client() -> None:
    no_number = Sender("Glow Spa", "+12125550100", "", "America/New_York", "US")
    with pytest.raises(InvalidInput) as refused:
        render("Text us at [SmsNumber]", MARIA, no_number, BOOKING)
    assert "the business has no SMS number yet" in refused.value.message
    assert "client" not in refused.value.message


def test_a_value_holding_a_variable_never_reaches_the_client_raw() -> None:
    sneaky = BookingData(BOOKING.booking_at, "[BookingTime]")
    with pytest.raises(InvalidInput) as refused:
        render("Your [Service]", MARIA, NY, sneaky)
    assert "[BookingTime]" in refused.value.message


def test_a_variable_made_by_the_template_s_brackets_around_a_value_is_refused() -> None:
    """The template's own "[" and "]" around a value that is a variable's name would send
    "[Firstname]" raw: refused like a value holding the brackets itself."""
    named_like_a_variable = Recipient("Firstname", "Lopez")
    with pytest.raises(InvalidInput) as refused:
        render("Hi [[Firstname]]", named_like_a_variable, NY, BOOKING)
    assert "[Firstname]" in refused.value.message


def test_brackets_that_are_not_variables_are_left_as_text() -> None:
    assert render("[10% off] for [Firstname] [ ]", MARIA, NY, BOOKING) == "[10% off] for Maria [ ]"
