from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messagecenter.sms import Keyword, KeywordMatch, classify_keyword, normalize_keyword_text
from messagecenter.sms.keywords import KEYWORDS

OUT, IN, HELP = Keyword.OPT_OUT, Keyword.OPT_IN, Keyword.HELP
ALL_KEYWORDS = [KeywordMatch(kind, kw) for kind, kws in KEYWORDS.items() for kw in kws]


def fullwidth(text: str) -> str:
    """ASCII -> fullwidth forms ("STOP" -> "\uff33\uff34\uff2f\uff30"), as some phones send."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", KeywordMatch(OUT, "STOP")),
        ("Stop.", KeywordMatch(OUT, "STOP")),
        ("  stop!!  ", KeywordMatch(OUT, "STOP")),
        ("stop . !", KeywordMatch(OUT, "STOP")),  # whitespace between punctuation too
        ("\tSTOP\r\n", KeywordMatch(OUT, "STOP")),
        ("stop\u00a0", KeywordMatch(OUT, "STOP")),
        (fullwidth("STOP"), KeywordMatch(OUT, "STOP")),  # via NFKC
        (fullwidth("stop!"), KeywordMatch(OUT, "STOP")),
        ("Stop…", KeywordMatch(OUT, "STOP")),  # ellipsis is Po
        ("STOP»", KeywordMatch(OUT, "STOP")),  # closing guillemet is Pf
        ("Stop :)", KeywordMatch(OUT, "STOP")),  # ':' and ')' are both punctuation
        ("stopall", KeywordMatch(OUT, "STOPALL")),
        ("StopAll!", KeywordMatch(OUT, "STOPALL")),
        ("unsubscribe", KeywordMatch(OUT, "UNSUBSCRIBE")),
        ("Cancel", KeywordMatch(OUT, "CANCEL")),
        ("end.", KeywordMatch(OUT, "END")),
        ("QUIT", KeywordMatch(OUT, "QUIT")),
        ("revoke", KeywordMatch(OUT, "REVOKE")),
        ("OptOut", KeywordMatch(OUT, "OPTOUT")),
        ("Yes!", KeywordMatch(IN, "YES")),
        ("start", KeywordMatch(IN, "START")),
        ("Unstop", KeywordMatch(IN, "UNSTOP")),
        ("help?", KeywordMatch(HELP, "HELP")),
        ("info", KeywordMatch(HELP, "INFO")),
        ("INFO?!", KeywordMatch(HELP, "INFO")),
        ("STOP ALL", None),  # not exact
        ("opt out", None),
        ("opt-out", None),
        ("stop by tomorrow?", None),
        ("please stop", None),
        ("stops", None),
        ("s.t.o.p", None),
        ("¿stop?", None),  # leading punctuation is kept
        ('"STOP"', None),
        ("stop 🛑", None),  # emoji are symbols, not punctuation
        ("stop\u200b", None),  # zero-width space is neither whitespace nor punctuation
        ("yes please", None),
        ("", None),
        ("   ", None),
        ("?!", None),
        (None, None),
    ],
)
def test_classify_keyword(body: str | None, expected: KeywordMatch | None) -> None:
    assert classify_keyword(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [("  Stop!! ", "stop"), ("stop . !", "stop"), ("¿Stop?", "¿stop"), (fullwidth("HELP"), "help")],
)
def test_normalize_keyword_text(body: str, expected: str) -> None:
    assert normalize_keyword_text(body) == expected


@pytest.mark.parametrize("match", ALL_KEYWORDS, ids=[m.keyword for m in ALL_KEYWORDS])
def test_every_listed_keyword_matches_itself(match: KeywordMatch) -> None:
    assert classify_keyword(match.keyword) == match
    assert classify_keyword(match.keyword.lower()) == match


def _still_punctuation(c: str) -> bool:
    # Some punctuation turns into other characters under NFKC; those are not "trailing
    # punctuation" by the rule, so leave them out of the generated tails.
    return all(
        unicodedata.category(x).startswith("P") or x.isspace()
        for x in unicodedata.normalize("NFKC", c)
    )


_punctuation = st.characters(categories=["Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"]).filter(
    _still_punctuation
)
_whitespace = st.sampled_from([" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000"])


@st.composite
def _keyword_variants(draw: st.DrawFn) -> tuple[str, KeywordMatch]:
    match = draw(st.sampled_from(ALL_KEYWORDS))
    upper = draw(st.lists(st.booleans(), min_size=len(match.keyword), max_size=len(match.keyword)))
    word = "".join(c if up else c.lower() for c, up in zip(match.keyword, upper, strict=True))
    if draw(st.booleans()):
        word = fullwidth(word)
    lead = draw(st.lists(_whitespace, max_size=3))
    tail = draw(st.lists(st.one_of(_punctuation, _whitespace), max_size=6))
    return "".join(lead) + word + "".join(tail), match


@given(_keyword_variants())
def test_any_case_and_trailing_punctuation_still_matches(case: tuple[str, KeywordMatch]) -> None:
    body, match = case
    assert classify_keyword(body) == match


@given(
    st.sampled_from(ALL_KEYWORDS),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
    st.booleans(),
)
def test_keyword_inside_a_longer_message_never_matches(
    match: KeywordMatch, other: str, keyword_first: bool
) -> None:
    body = f"{match.keyword} {other}" if keyword_first else f"{other} {match.keyword}"
    assert classify_keyword(body) is None
    assert classify_keyword(body + "!") is None
