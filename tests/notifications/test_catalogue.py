"""The catalogue: every type's default wording is a valid template of that type."""

from __future__ import annotations

import pytest

from messagecenter.errors import InvalidInput
from messagecenter.notifications.catalogue import TYPES, get_type
from messagecenter.notifications.templates import check_template, variables_in
from messagecenter.sending.compose import CATEGORY_SWITCHES

REQUIRED = {
    "booking_confirmation",
    "booking_reminder",
    "booking_changed",
    "booking_cancelled",
    "waitlist_spot",
    "welcome",
    "opt_out_confirmation",
    "opt_in_confirmation",
    "help",
}


def test_the_issue_s_types_are_all_catalogued_each_in_a_category_the_send_path_knows() -> None:
    assert set(TYPES) >= REQUIRED
    assert {kind.category for kind in TYPES.values()} == set(CATEGORY_SWITCHES)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_default_passes_its_own_check_and_names_the_business_first(name: str) -> None:
    kind = TYPES[name]
    check_template(kind, kind.default_body)
    assert kind.default_body.startswith("[BusinessName]") or "[BusinessName]" in kind.default_body
    assert set(variables_in(kind.default_body)) <= set(kind.variables)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_no_default_suggests_cancel_which_unsubscribes(name: str) -> None:
    assert "CANCEL" not in TYPES[name].default_body.upper().replace("CANCELLED", "")


def test_keyword_answers_cannot_be_triggered_and_have_no_client_variables() -> None:
    for name in ("opt_out_confirmation", "opt_in_confirmation", "help"):
        assert not TYPES[name].triggerable
        assert "Firstname" not in TYPES[name].variables


def test_an_unknown_type_is_refused_listing_the_types() -> None:
    with pytest.raises(InvalidInput) as refused:
        get_type("booking_remindr")
    assert refused.value.field == "type"
    assert "booking_reminder" in refused.value.message
