"""Compliance keywords (STOP/START/HELP ...) in inbound SMS: every list lives here.

Matching is deliberately exact: a message counts only when, after normalising, it *is*
the keyword. "stop by tomorrow?" must never unsubscribe anyone. Which words count depends on
where the text is going: the business's country (French words in Canada) and whether the
number is toll-free (YES opts nobody back in there).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


@dataclass(frozen=True)
class KeywordMatch:
    kind: Keyword
    keyword: str  # the canonical upper-case keyword, e.g. "STOP", "STOP ALL", "ARRÊT"


# Every business honours these. Two-word phrases are written with one space; a hyphen or any
# run of spaces between the words matches too ("Opt-out", "stop  all").
KEYWORDS: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: (
        "STOP",
        "STOPALL",
        "STOP ALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
    ),
    Keyword.OPT_IN: ("START", "YES", "UNSTOP"),
    Keyword.HELP: ("HELP", "INFO"),
}
# Businesses in these countries (Business.country) also honour these; elsewhere they are
# ordinary text. Canada is bilingual: French opt-out and help words.
COUNTRY_KEYWORDS: dict[str, dict[Keyword, tuple[str, ...]]] = {
    "CA": {Keyword.OPT_OUT: ("ARRET", "ARRÊT"), Keyword.HELP: ("AIDE",)},
}
# Carriers ignore these on toll-free numbers, where only START and UNSTOP opt back in.
NOT_ON_TOLL_FREE = frozenset({"YES"})


def _by_text(lists: dict[Keyword, tuple[str, ...]]) -> dict[str, KeywordMatch]:
    return {
        normalize_keyword_text(word): KeywordMatch(kind, word)
        for kind, words in lists.items()
        for word in words
    }


# A dash between two letters or digits reads as a space ("opt-out", "stop-all").
_INNER_DASH = re.compile(r"(?<=\w)[\-\u2010\u2011\u2012\u2013\u2014](?=\w)")


def normalize_keyword_text(body: str) -> str:
    """NFKC (fullwidth and other compatibility forms, composed accents), trim, drop trailing
    punctuation, one space between words (a dash inside counts as one), casefold.

    Only *trailing* punctuation goes ("Stop!!", "stop…", "stop . !"); leading punctuation
    stays, so "¿stop?" does not match.
    """
    text = unicodedata.normalize("NFKC", body).strip()
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    return " ".join(_INNER_DASH.sub(" ", text).split()).casefold()


_EVERYWHERE = _by_text(KEYWORDS)
_BY_COUNTRY = {country: _by_text(lists) for country, lists in COUNTRY_KEYWORDS.items()}
_NOT_ON_TOLL_FREE = {normalize_keyword_text(word) for word in NOT_ON_TOLL_FREE}
_ANYWHERE = {text for table in (_EVERYWHERE, *_BY_COUNTRY.values()) for text in table}


def classify_keyword(
    body: str | None, *, country: str | None, toll_free: bool
) -> KeywordMatch | None:
    """The keyword this whole message is, for a business in `country` (None: the words every
    business honours) texted on a number that is or is not toll-free; None for ordinary text.
    Consent policy (YES from a subscribed client...) is decided elsewhere."""
    if not body:
        return None
    text = normalize_keyword_text(body)
    if toll_free and text in _NOT_ON_TOLL_FREE:
        return None
    match = _EVERYWHERE.get(text)
    if match is None and country is not None:
        match = _BY_COUNTRY.get(country.upper(), {}).get(text)
    return match


def may_be_keyword(body: str | None) -> bool:
    """Whether this text is a keyword for some business on some number. Where texts are cut
    into runs that end at a keyword, cutting at one that is ordinary text for its business
    costs only a shorter run; the keyword itself is then decided with its context."""
    return bool(body) and normalize_keyword_text(body or "") in _ANYWHERE


# A client's yes to an automated message that asked for one ("Reply YES to confirm"): these
# whole messages (normalised as keywords are) confirm. YES is also an opt-in keyword: from an
# unsubscribed client it stays one (notifications/replies.py asks consent first).
CONFIRMATION_WORDS = ("YES", "Y", "YEP", "YEAH", "YUP", "YA", "CONFIRM", "CONFIRMED", "OK", "OKAY")
_CONFIRMATIONS = {normalize_keyword_text(word) for word in CONFIRMATION_WORDS}


def is_confirmation(body: str | None) -> bool:
    """Whether this whole text is a yes (see CONFIRMATION_WORDS)."""
    return bool(body) and normalize_keyword_text(body or "") in _CONFIRMATIONS
