from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from messagecenter.sms import Keyword, KeywordMatch, classify_keyword, normalize_keyword_text
from messagecenter.sms.keywords import (
    COUNTRY_KEYWORDS,
    KEYWORDS,
    NOT_ON_TOLL_FREE,
    may_be_keyword,
)

OUT, IN, HELP = Keyword.OPT_OUT, Keyword.OPT_IN, Keyword.HELP
ALL_KEYWORDS = [KeywordMatch(kind, kw) for kind, kws in KEYWORDS.items() for kw in kws]
CANADIAN = [KeywordMatch(kind, kw) for kind, kws in COUNTRY_KEYWORDS["CA"].items() for kw in kws]
COUNTRIES = ["US", "CA", "GB", "AU", None]
PHRASES = {normalize_keyword_text(m.keyword) for m in [*ALL_KEYWORDS, *CANADIAN]}


def fullwidth(text: str) -> str:
    """ASCII -> fullwidth forms ("STOP" -> "\uff33\uff34\uff2f\uff30"), as some phones send;
    a space becomes the ideographic space."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in text)


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
        ("STOP ALL", KeywordMatch(OUT, "STOP ALL")),
        ("stop all!", KeywordMatch(OUT, "STOP ALL")),
        ("Stop  All.", KeywordMatch(OUT, "STOP ALL")),  # any run of spaces between the words
        ("stop\u00a0all", KeywordMatch(OUT, "STOP ALL")),
        ("opt out", KeywordMatch(OUT, "OPT OUT")),
        ("Opt-out", KeywordMatch(OUT, "OPT OUT")),  # a dash between the words is a space
        ("OPT\u2013OUT!", KeywordMatch(OUT, "OPT OUT")),  # en dash
        ("stop-all", KeywordMatch(OUT, "STOP ALL")),
        ("opt out now", None),  # not exact
        ("stop all of it", None),
        ("-stop", None),  # a leading dash is leading punctuation
        ("s-t-o-p", None),
        ("opt - out", None),  # a dash between spaces is a word of its own
        ("optout-", KeywordMatch(OUT, "OPTOUT")),
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
    for country in COUNTRIES:  # these words mean the same everywhere
        assert classify_keyword(body, country=country, toll_free=False) == expected
    assert may_be_keyword(body) is (expected is not None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  Stop!! ", "stop"),
        ("stop . !", "stop"),
        ("¿Stop?", "¿stop"),
        (fullwidth("HELP"), "help"),
        (" Stop \t ALL ", "stop all"),
        ("opt-out", "opt out"),
        ("ARRE\u0302T.", "arrêt"),  # a combining accent composes under NFKC
    ],
)
def test_normalize_keyword_text(body: str, expected: str) -> None:
    assert normalize_keyword_text(body) == expected


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("match", ALL_KEYWORDS, ids=[m.keyword for m in ALL_KEYWORDS])
def test_every_keyword_matches_itself_for_every_business(
    match: KeywordMatch, country: str | None
) -> None:
    assert classify_keyword(match.keyword, country=country, toll_free=False) == match
    assert classify_keyword(match.keyword.lower(), country=country, toll_free=False) == match
    assert classify_keyword(match.keyword.title() + ".", country=country, toll_free=False) == match
    assert may_be_keyword(match.keyword) is True


@pytest.mark.parametrize("toll_free", [False, True])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("ARRET", KeywordMatch(OUT, "ARRET")),
        ("arret!", KeywordMatch(OUT, "ARRET")),
        ("ARRÊT", KeywordMatch(OUT, "ARRÊT")),
        ("Arrêt.", KeywordMatch(OUT, "ARRÊT")),
        ("arrêt", KeywordMatch(OUT, "ARRÊT")),
        ("ARRE\u0302T", KeywordMatch(OUT, "ARRÊT")),  # E + combining circumflex
        (fullwidth("ARRET"), KeywordMatch(OUT, "ARRET")),
        ("AIDE", KeywordMatch(HELP, "AIDE")),
        ("Aide ?", KeywordMatch(HELP, "AIDE")),  # French spacing before "?"
        ("aide-moi", None),
        ("arrêtez", None),
        ("arrêt maintenant", None),
    ],
)
def test_canadian_businesses_also_honour_french_keywords(
    body: str, expected: KeywordMatch | None, toll_free: bool
) -> None:
    assert classify_keyword(body, country="CA", toll_free=toll_free) == expected
    assert classify_keyword(body, country="ca", toll_free=toll_free) == expected


@pytest.mark.parametrize("country", ["US", "GB", "AU", None])
@pytest.mark.parametrize("match", CANADIAN, ids=[m.keyword for m in CANADIAN])
def test_french_keywords_are_ordinary_text_elsewhere(
    match: KeywordMatch, country: str | None
) -> None:
    assert classify_keyword(match.keyword, country=country, toll_free=False) is None
    assert classify_keyword(match.keyword.lower(), country=country, toll_free=False) is None
    assert may_be_keyword(match.keyword) is True  # a keyword somewhere: runs are cut at it


def test_the_lists_hold_what_the_rules_name() -> None:
    assert set(COUNTRY_KEYWORDS) == {"CA"}
    assert {m.keyword for m in CANADIAN} == {"ARRET", "ARRÊT", "AIDE"}
    assert set(NOT_ON_TOLL_FREE) == {"YES"}
    assert {m.keyword for m in ALL_KEYWORDS} >= {"STOP ALL", "OPT OUT", "REVOKE", "OPTOUT"}


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("body", ["YES", "yes", "Yes!", fullwidth("YES")])
def test_yes_is_ordinary_text_on_a_toll_free_number(body: str, country: str | None) -> None:
    assert classify_keyword(body, country=country, toll_free=True) is None
    assert classify_keyword(body, country=country, toll_free=False) == KeywordMatch(IN, "YES")


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize(
    "match",
    [m for m in ALL_KEYWORDS if m.keyword != "YES"],
    ids=[m.keyword for m in ALL_KEYWORDS if m.keyword != "YES"],
)
def test_every_other_keyword_holds_on_a_toll_free_number(
    match: KeywordMatch, country: str | None
) -> None:
    assert classify_keyword(match.keyword, country=country, toll_free=True) == match


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
    assert classify_keyword(body, country="US", toll_free=False) == match


@given(
    st.sampled_from(ALL_KEYWORDS),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
    st.booleans(),
)
@example(KeywordMatch(OUT, "STOP"), "ALL", True)  # a phrase: left out by the assumption
@example(KeywordMatch(OUT, "ARRÊT"), "Ok", False)
def test_keyword_inside_a_longer_message_never_matches(
    match: KeywordMatch, other: str, keyword_first: bool
) -> None:
    body = f"{match.keyword} {other}" if keyword_first else f"{other} {match.keyword}"
    # "STOP" then "all" is the phrase STOP ALL, not a keyword inside a longer message.
    assume(normalize_keyword_text(body) not in PHRASES)
    assert classify_keyword(body, country="CA", toll_free=False) is None
    assert classify_keyword(body + "!", country="CA", toll_free=False) is None
