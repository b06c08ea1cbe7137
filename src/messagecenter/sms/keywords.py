"""Compliance keywords (STOP/START/HELP ...) in inbound SMS.

Matching is deliberately exact: a message counts only when, after normalising, it *is*
the keyword. "stop by tomorrow?" must never unsubscribe anyone.
"""

from __future__ import annotations

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
    keyword: str  # the canonical upper-case keyword, e.g. "STOP"


KEYWORDS: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    ),
    Keyword.OPT_IN: ("START", "YES", "UNSTOP"),
    Keyword.HELP: ("HELP", "INFO"),
}
_BY_TEXT = {kw.casefold(): KeywordMatch(kind, kw) for kind, kws in KEYWORDS.items() for kw in kws}


def normalize_keyword_text(body: str) -> str:
    """NFKC (fullwidth and other compatibility forms), trim, drop trailing punctuation, casefold.

    Only *trailing* punctuation goes ("Stop!!", "stop…", "stop . !"); leading punctuation
    stays, so "¿stop?" does not match.
    """
    text = unicodedata.normalize("NFKC", body).strip()
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    return text.casefold()


def classify_keyword(body: str | None) -> KeywordMatch | None:
    """The keyword this whole message is, if any. Consent policy is decided elsewhere."""
    if not body:
        return None
    return _BY_TEXT.get(normalize_keyword_text(body))
