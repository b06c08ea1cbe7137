"""What an inbox search looks for: the typed text, and the phone number it may be.

One query is matched three ways (see queries.list_conversations): any message's text holds
it, the client's name holds it, or the conversation's phone holds its digits. A phone is
typed however people write one: (212) 555-0142, 212-555-0142, +1 212 555 0142, 2125550142,
or just its last digits (0142); a national number with a trunk prefix (07400 123456) is read
in the business's country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException

# Text shorter than a trigram cannot use either database's index (FTS5 trigram, pg_trgm):
# such a query still finds names and phones, not message text.
MIN_TEXT_LENGTH = 3
MIN_PHONE_DIGITS = 3
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SearchQuery:
    text: str  # what was typed, trimmed, runs of spaces made one
    body_text: str | None  # matched against message text (None: too short for the index)
    phone_digits: str | None  # matched within the conversation's E.164 phone
    # What the search found, by business (search_queries.search_hits): kept with the query
    # typed for one request, so its list, count and highlights ask the indexes once.
    found: dict[int, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


def read_query(typed: str, country: str) -> SearchQuery | None:
    """The search for what was typed (None when nothing was)."""
    text = _SPACES.sub(" ", typed).strip()
    if not text:
        return None
    return SearchQuery(
        text=text,
        body_text=text if len(text) >= MIN_TEXT_LENGTH else None,
        phone_digits=_phone_digits(text, country),
    )


def _phone_digits(text: str, country: str) -> str | None:
    if not _PHONE_LIKE.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    try:
        number = phonenumbers.parse(text, country)
    except NumberParseException:
        return digits
    if phonenumbers.is_valid_number(number):
        # A whole number: its E.164 digits (07400 123456 in GB is 447400123456).
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return digits  # part of a number, e.g. its last digits


def match_spans(body: str, text: str) -> list[tuple[int, int]]:
    """Where `text` occurs in `body`, case-insensitively, as (start, end) offsets."""
    if not text:
        return []
    pattern = re.compile(re.escape(text), re.IGNORECASE)
    return [(found.start(), found.end()) for found in pattern.finditer(body)]
