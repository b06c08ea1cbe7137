"""SMS rules: encoding/segment counting and compliance keywords (pure functions, no I/O)."""

from messagecenter.sms.keywords import (
    Keyword,
    KeywordMatch,
    classify_keyword,
    normalize_keyword_text,
)
from messagecenter.sms.segments import (
    Encoding,
    SegmentInfo,
    count_segments,
    normalize_newlines,
)

__all__ = [
    "Encoding",
    "Keyword",
    "KeywordMatch",
    "SegmentInfo",
    "classify_keyword",
    "count_segments",
    "normalize_keyword_text",
    "normalize_newlines",
]
