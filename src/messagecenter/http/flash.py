"""Messages for the next page a browser sees ("flash" messages), kept in its signed session
cookie. A redirect after a POST carries its outcome here, never in the URL: text in a query
string could be written by anyone and shown as if the app had said it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

FLASHES = "flash"  # the session key
MAX_FLASHES = 5  # a few per page; more would only grow the cookie
Kind = Literal["error", "note"]


@dataclass(frozen=True)
class Flash:
    kind: Kind
    text: str
    link: str = ""  # a path in the app, with `link_text` as its words
    link_text: str = ""


def flash(
    request: Request, text: str, kind: Kind = "note", link: str = "", link_text: str = ""
) -> None:
    """Keep `text` for the next page this browser renders."""
    kept = list(request.session.get(FLASHES, []))[-(MAX_FLASHES - 1) :]
    kept.append([kind, text, link, link_text])
    request.session[FLASHES] = kept


def take_flashes(request: Request) -> list[Flash]:
    """The messages waiting for this browser, removed: each is shown once."""
    if "session" not in request.scope or FLASHES not in request.session:
        return []
    kept = request.session.pop(FLASHES)
    found: list[Flash] = []
    for entry in kept if isinstance(kept, list) else []:
        if isinstance(entry, list) and len(entry) == 4 and all(isinstance(e, str) for e in entry):
            kind, text, link, link_text = entry
            found.append(Flash("error" if kind == "error" else "note", text, link, link_text))
    return found
