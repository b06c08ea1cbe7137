"""The page kit for the staff web app: its templates, `render` (the layout's values: badge,
usage banner, CSRF token), `redirect`, and the error page the HTML error handlers show."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.businesses.usage import UsageSummary
from messagecenter.conversations import assignment
from messagecenter.conversations.search import match_spans
from messagecenter.http import readable
from messagecenter.http.csrf import csrf_token
from messagecenter.http.flash import take_flashes
from messagecenter.models import Business, StaffMember

# The staff pages' templates sit beside their routes in web/; the kit only reads them.
TEMPLATES = Path(__file__).parent.parent / "web" / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))


def _place(context: Any) -> tuple[str, str]:
    """The time zone and country the page's business reads times and numbers in."""
    business = context.get("business")
    if business is None:  # a page outside any business (sign-in, errors)
        return "UTC", ""
    return business.timezone, business.country


@pass_context
def _when(context: Any, value: datetime, seconds: bool = False) -> str:
    return readable.when(value, *_place(context), seconds=seconds)


@pass_context
def _when_short(context: Any, value: datetime) -> str:
    return readable.when_short(value, *_place(context))


@pass_context
def _day(context: Any, value: date | datetime, year: bool = True) -> str:
    return readable.day(value, *_place(context), year=year)


@pass_context
def _time(context: Any, value: datetime) -> str:
    return readable.time_of_day(value, *_place(context))


@pass_context
def _phone(context: Any, e164: str, found: str = "") -> Markup:
    return readable.phone_markup(e164, _place(context)[1], found)


@pass_context
def _phone_text(context: Any, e164: str) -> str:
    return readable.phone_text(e164, _place(context)[1])


# Times and numbers as the business reads them (http/readable.py); the machine forms stay in
# <time datetime> and the phone's tooltip.
templates.env.filters |= {
    "when": _when,
    "when_short": _when_short,
    "day": _day,
    "time": _time,
    "phone": _phone,
    "phone_text": _phone_text,
}
SNIPPET_WIDTH = 200  # characters of a long message shown around its first match


def _highlight(text: str, found: str) -> Markup:
    """`text` escaped, each occurrence of `found` (any case) in <mark>; a long text is cut to
    a window around the first one."""
    spans = match_spans(text, found)
    start, end = 0, len(text)
    if end > SNIPPET_WIDTH:
        start = max(0, (spans[0][0] if spans else 0) - SNIPPET_WIDTH // 4)
        end = min(len(text), start + SNIPPET_WIDTH)
    pieces = [Markup("…") if start > 0 else Markup("")]
    position = start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue  # outside the window
        pieces.append(escape(text[position:span_start]))
        pieces.append(Markup("<mark>%s</mark>") % text[span_start:span_end])
        position = span_end
    pieces.append(escape(text[position:end]))
    if end < len(text):
        pieces.append(Markup("…"))
    return Markup("").join(pieces)


templates.env.filters["highlight"] = _highlight
STATUS_WORDS = {
    "queued": "Queued",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "undelivered": "Not delivered",
    "failed": "Failed",
    "canceled": "Canceled",
    "received": "Received",
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    staff: StaffMember | None = None,
    business: Business | None = None,
    session: Session | None = None,
    usage_summary: UsageSummary | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    app_context = request.app.state.context
    values: dict[str, Any] = {
        "request": request,
        "csrf": csrf_token(request),
        "staff": staff,
        "business": business,
        "unread": business.unread_messages if business else 0,
        "badge_shown": staff.badge_shown if staff else True,
        "badge_counts": staff.badge_counts if staff else "all",
        "simulator": app_context.simulator is not None,
        "status_words": STATUS_WORDS,
        "flashes": take_flashes(request),
        **context,
    }
    if business is not None and session is not None:
        # The request's own session: a second one would wait for SQLite's single connection.
        summary = usage_summary or usage.summarize(session, business, app_context.clock.now())
        values["usage_warning"] = summary.warning
        values["usage"] = summary
        if staff is not None:  # the staff member's own badge: all unread, or theirs
            values["unread"] = assignment.badge_count(session, staff, business.unread_messages)
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of a page (no layout), for a live refresh."""
    return templates.TemplateResponse(
        request, template, {"request": request, "status_words": STATUS_WORDS, **context}
    )


def redirect(path: str, **params: str) -> RedirectResponse:
    """A 303 to `path`, with the parameters that have a value as its query string. Never a
    message to show: that goes by `http.flash`, as the URL's text is anyone's to write."""
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(path + (f"?{query}" if query else ""), 303)


def past_the_end(request: Request, page: int, pages: int) -> RedirectResponse | None:
    """A 303 to the last page when `page` lies beyond it (a list that shrank, an old link),
    the other filters kept; None when the page exists."""
    if page <= pages:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return RedirectResponse(f"{request.url.path}?{urlencode([*query, ('page', str(pages))])}", 303)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Not found", 401: "Please sign in"}
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "request": request,
            "status": status,
            "title": titles.get(status, "Something is wrong"),
            "message": message,
        },
        status_code=status,
    )
