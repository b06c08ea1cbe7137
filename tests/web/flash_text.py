"""Reading the messages a page shows once after a form (http/flash.py) out of its HTML."""

from __future__ import annotations

import re
from html import unescape

FLASH = re.compile(r'<p class="flash (error|note)"[^>]*data-flash="\1">(.*?)</p>', re.S)


def flashes_of(html: str, kind: str | None = None) -> str:
    """The text of the page's flash messages (of `kind` only, if given), joined."""
    found = [
        re.sub(r"<[^>]+>", "", text) for shown, text in FLASH.findall(html) if kind in (None, shown)
    ]
    return " | ".join(" ".join(unescape(text).split()) for text in found)
