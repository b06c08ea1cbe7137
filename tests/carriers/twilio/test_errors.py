"""Carrier error codes in words (DESIGN.md §1: delivery status "with the reason in words")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from messagecenter.carriers.base import RecipientProblem
from messagecenter.carriers.simulator.carrier import FAILURE_CODES
from messagecenter.carriers.twilio.errors import (
    CANNOT_RECEIVE_CODES,
    REASONS,
    UNSUBSCRIBED_CODE,
    explain,
    reason_for,
)

CATALOGUE = Path(__file__).resolve().parents[4] / "shared" / "data"
CATALOGUE_FILE = CATALOGUE / "twilio_messaging_error_codes.json"

# Where the reason ends up: messages.error_message is 300 characters, clients.cell_phone_error
# 200.
ERROR_MESSAGE_LENGTH = 300
CELL_PHONE_ERROR_LENGTH = 200


def test_no_code_has_no_reason() -> None:
    assert reason_for(None) is None


@pytest.mark.parametrize("code", sorted(REASONS))
def test_known_codes_have_their_own_reason(code: int) -> None:
    reason = reason_for(code)
    assert reason == REASONS[code]
    assert reason is not None
    assert reason[0].isupper()
    assert reason.endswith(".")
    assert len(reason) <= ERROR_MESSAGE_LENGTH
    assert f"error {code}" not in reason


@pytest.mark.parametrize("code", [1, 12300, 30036, 30999, 63016, 2**31 - 1])
def test_unknown_code_keeps_its_number_in_a_generic_reason(code: int) -> None:
    assert code not in REASONS
    reason = reason_for(code)
    assert reason is not None
    assert str(code) in reason
    assert "not delivered" in reason
    assert len(reason) <= ERROR_MESSAGE_LENGTH


@pytest.mark.parametrize(
    "code",
    sorted({20429, 21611, UNSUBSCRIBED_CODE, *CANNOT_RECEIVE_CODES, *FAILURE_CODES}),
)
def test_every_code_the_app_acts_on_is_explained(code: int) -> None:
    assert code in REASONS


@pytest.mark.parametrize("code", sorted(CANNOT_RECEIVE_CODES))
def test_cell_phone_reasons_fit_the_client_field(code: int) -> None:
    reason = reason_for(code)
    assert reason is not None
    assert len(reason) <= CELL_PHONE_ERROR_LENGTH


@pytest.mark.parametrize("code", [20429, 21408, 30003, 39999])
def test_explain_gives_the_code_and_its_reason(code: int) -> None:
    assert explain(code).code == code
    assert explain(code).reason == reason_for(code)
    assert explain(code).recipient is None


def test_explain_says_what_a_code_proves_about_the_recipient() -> None:
    assert explain(UNSUBSCRIBED_CODE).recipient is RecipientProblem.UNSUBSCRIBED
    for code in CANNOT_RECEIVE_CODES:
        assert explain(code).recipient is RecipientProblem.CANNOT_RECEIVE
    assert UNSUBSCRIBED_CODE == 21610
    assert frozenset({21211, 21612, 21614}) == CANNOT_RECEIVE_CODES


def test_the_reasons_say_what_happened() -> None:
    assert "unsubscribed" in REASONS[21610].lower()
    assert "not valid" in REASONS[21211].lower()
    assert "landline" in REASONS[30006].lower()
    assert "1,600" in REASONS[21617]


@pytest.mark.skipif(not CATALOGUE_FILE.exists(), reason="Twilio's catalogue copy is not here")
def test_every_explained_code_is_in_twilios_catalogue() -> None:
    catalogue = json.loads(CATALOGUE_FILE.read_text())
    codes = {int(entry["code"]) for entry in catalogue["codes"]}
    # The copy is from 2023: codes from 30036 on are newer than it.
    assert sorted(c for c in REASONS if c < 30036 and c not in codes) == []
