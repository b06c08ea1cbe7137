"""Settings → Automated messages: the owner switches each notification type on or off and words
its template, with the variables it may use, a preview filled with sample data and the
composer's counter. Checking, saving and rendering are the notifications service's; this
module only shows them and takes the forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel

from messagecenter.businesses import queries as business_queries
from messagecenter.businesses.billing import units_for
from messagecenter.errors import DomainError, InvalidInput, NotFound
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import redirect
from messagecenter.http.readable import phone_text
from messagecenter.notifications import service
from messagecenter.notifications.catalogue import ACCOUNT, MARKETING, REMINDERS, TYPES
from messagecenter.notifications.service import TemplateView
from messagecenter.sending.compose import MAX_BODY_CHARACTERS
from messagecenter.sms.segments import count_segments, normalize_newlines
from messagecenter.staff.service import set_cell_phone
from messagecenter.web.pages import OwnerPageDep, Page

router = APIRouter(include_in_schema=False)
PATH = "/settings/automated-messages"
TypePath = Annotated[str, Path(max_length=40)]
# A template may be long while it is worked on; the counter says when it is over the limit.
BodyForm = Annotated[str, Form(max_length=MAX_BODY_CHARACTERS * 2)]

# The groups the page shows, in order: the client switch each category obeys, then the
# keyword answers (which no booking system triggers).
GROUPS = (
    (REMINDERS, "Reminders", "Sent to clients whose SMS reminders are on."),
    (ACCOUNT, "Account", "Sent to clients whose SMS account messages are on."),
    (MARKETING, "Marketing", "Sent to clients whose SMS marketing is on."),
    (
        "answers",
        "Answers to texts",
        "Sent by the app to a client's text: the after-hours answer to one that arrives while you "
        "are closed (Settings → Business hours), at most once a client every 12 hours, never to "
        "STOP, START or HELP.",
    ),
)
ANSWERS = "answers"
KEYWORDS = "keywords"
KEYWORD_NOTE = (
    "Sent by the app when a client texts STOP, START or HELP, on numbers where the app answers "
    "keywords itself (Settings → Answers to STOP, START and HELP). Where the carrier answers "
    "them (Twilio's default), the carrier's own wording is sent instead and these are not used."
)


@dataclass(frozen=True)
class Counted:
    """What the client would get: the rendered sample (or, when it cannot be rendered, the
    template itself), counted as the composer counts."""

    preview: str
    error: str  # why the sample could not be rendered, in the service's words
    count: dict[str, Any]
    ucs2_from_values: list[str]  # characters only the sample values bring, forcing UCS-2


@dataclass(frozen=True)
class Card:
    view: TemplateView
    body: str  # as shown in the textarea: the saved one, or what a refused save posted
    counted: Counted
    error: str  # a refused save's message, shown beside this template


def _counted(page: Page, type_name: str, body: str) -> Counted:
    try:
        text = service.preview(
            page.session, page.business, type_name, body, page.context.clock.now()
        )
        error = ""
    except InvalidInput as refused:
        text, error = body, refused.message
    info = count_segments(text[: MAX_BODY_CHARACTERS * 2])
    own = set(count_segments(body).unicode_characters)
    count = {
        "characters": info.characters,
        "length": len(normalize_newlines(text)),
        "segments": info.segments,
        "encoding": info.encoding,
        "units": units_for(has_media=False),
        "unicode_characters": info.unicode_characters[:10],
        "limit": MAX_BODY_CHARACTERS,
    }
    from_values = [c for c in info.unicode_characters if c not in own] if not error else []
    return Counted(text if not error else "", error, count, from_values[:10])


def _page(
    page: Page,
    *,
    failed: str = "",
    posted: str = "",
    error: str = "",
    phone_error: str = "",
) -> HTMLResponse:
    cards: dict[str, list[Card]] = {}
    for view in service.templates(page.session, page.business):
        mine = view.kind.name == failed
        body = posted if mine else view.body
        if view.kind.answers_keyword:
            group = KEYWORDS
        else:
            group = view.kind.category if view.kind.triggerable else ANSWERS
        card = Card(view, body, _counted(page, view.kind.name, body), error if mine else "")
        cards.setdefault(group, []).append(card)
    return page.render(
        "automated_messages.html",
        {"groups": GROUPS, "cards": cards, "keywords": KEYWORDS,
         "keyword_note": KEYWORD_NOTE + " " + _keyword_answers_now(page),
         "test_phone": page.staff.cell_phone or "", "phone_error": phone_error,
         "max_body": MAX_BODY_CHARACTERS},
        status_code=400 if error or phone_error else 200,
    )  # fmt: skip


def _keyword_answers_now(page: Page) -> str:
    number = business_queries.active_number(page.session, page.business.id)
    if number is None:
        return "Now: no SMS number yet."
    shown = phone_text(number.phone_number, page.business.country)
    if number.carrier_handles_keywords:
        return f"Now: the carrier answers on {shown}, so these are not sent."
    return f"Now: the app answers on {shown}, with these texts."


def _known(type_name: str) -> str:
    """A catalogued type, or 404 (a form names types the page listed)."""
    if type_name not in TYPES:
        raise NotFound("No such automated message.")
    return type_name


@router.get(PATH, response_class=HTMLResponse)
def automated_messages(page: OwnerPageDep) -> HTMLResponse:
    return _page(page)


@router.post(PATH + "-test-phone", response_model=None)
def save_test_phone(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    cell_phone: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """The signed-in owner's own cell phone, where "Send a test" goes."""
    check_csrf(page.request, csrf)
    try:
        set_cell_phone(work.session, page.staff, cell_phone, page.business.country)
    except DomainError as refused:
        work.rollback()
        return _page(page, phone_error=refused.message)  # beside the field, on this answer
    return redirect(PATH)


@router.post(PATH + "/{type_name}", response_model=None)
def save(
    type_name: TypePath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    body: BodyForm = "",
    enabled: Annotated[str, Form(max_length=10)] = "",
    action: Annotated[str, Form(pattern="^(save|reset|test)$")] = "save",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """Save the switch and the wording, or reset the wording to the default (the switch as
    posted either way), or send the wording as typed to the owner's own cell phone (nothing
    saved). A refused template or test comes back beside its type, nothing saved or sent."""
    check_csrf(page.request, csrf)
    name = _known(type_name)
    text = normalize_newlines(body)  # browsers post CRLF; texts are stored and sent with LF
    if action == "test":
        try:
            service.send_test(
                work.session, page.business, page.staff, name, text, page.context.clock.now()
            )
        except DomainError as refused:
            work.rollback()
            return _page(page, failed=name, posted=text, error=refused.message)
        to = phone_text(page.staff.cell_phone or "", page.business.country)
        flash(page.request, f"A test of {TYPES[name].label} is on its way to "
              f"{to}, as typed, with sample data (it uses a unit).")  # fmt: skip
        return RedirectResponse(f"{PATH}#template-{name}", 303)
    try:
        service.save_template(
            work.session,
            page.business,
            name,
            enabled=None if TYPES[name].answers_keyword else bool(enabled),
            body=None if action == "reset" else text,
            reset_body=action == "reset",
            at=page.context.clock.now(),
        )
    except InvalidInput as refused:
        work.rollback()
        return _page(page, failed=name, posted=text, error=refused.message)
    # Back to the saved template (names are catalogue keys: safe in a URL fragment).
    flash(page.request, f"{TYPES[name].label} saved.")
    return RedirectResponse(f"{PATH}#template-{name}", 303)


class PreviewIn(BaseModel):
    body: str = ""


# The page's own JSON helper (like the other pages', under /app/): it changes nothing.
PREVIEW_PATH = "/app/automated-messages/{type_name}/preview"


@router.post(PREVIEW_PATH)
def preview(type_name: TypePath, page: OwnerPageDep, payload: PreviewIn) -> JSONResponse:
    """The live preview as the owner types: the same rendering and count as the page's."""
    counted = _counted(page, _known(type_name), payload.body[: MAX_BODY_CHARACTERS * 2])
    return JSONResponse(
        {"preview": counted.preview, "error": counted.error, "count": counted.count,
         "ucs2_from_values": counted.ucs2_from_values}
    )  # fmt: skip
