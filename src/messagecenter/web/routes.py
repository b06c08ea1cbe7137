"""Staff web pages: sign-in, inbox, conversation with composer (the simulated client phone:
phone.py)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from messagecenter.businesses.billing import units_for
from messagecenter.campaigns import service as campaigns
from messagecenter.clients import queries as client_queries
from messagecenter.clients import service as clients
from messagecenter.clients.service import ClientChanges
from messagecenter.conversations import assignment, present, queries, service
from messagecenter.conversations.assignment import ChangedBy
from messagecenter.conversations.search import read_query
from messagecenter.errors import DomainError, InvalidInput, NotPermitted
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import ContextDep, UnitOfWork, UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import fragment, past_the_end, redirect, render
from messagecenter.http.types import IdPath, OptionalIdQuery
from messagecenter.models import Client, Conversation, Message
from messagecenter.models.message import SENDER_AUTOMATED
from messagecenter.notes import service as notes
from messagecenter.notifications.replies import replies_to
from messagecenter.numbers.countries import number_country
from messagecenter.sending.compose import MAX_BODY_CHARACTERS, Sender, send_message
from messagecenter.signin.service import LoginRefused, TooManySignIns
from messagecenter.sms.content_rules import active_rules
from messagecenter.sms.keywords import normalize_keyword_text
from messagecenter.sms.segments import count_segments
from messagecenter.web.auth import SESSION_ID, remember_device, sign_in, sign_out
from messagecenter.web.bulk import scheduled_moment
from messagecenter.web.pages import Page, PageDep

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
# The list's total is counted this far past the page shown ("1,025+ conversations"): exact for
# a normal inbox, and a page of a 100,000-conversation one costs what a page of 1,000 does.
COUNT_AHEAD = 1000
THREAD_SIZE = 50  # messages a thread shows at first, and loads each time staff scroll up
RECENT_AUTOMATED = 5  # automated texts the client panel lists
NEW_MESSAGE_RESULTS = 20  # clients New message lists for a search (typing more narrows it)
# The folders (and Blocked), and beside them the assignment views (Mine, Unassigned).
FolderQuery = Annotated[
    str, Query(pattern="^(unread|read|replied|archived|blocked|all|mine|unassigned)$")
]
# The client's notification switches, as the profile names them.
CATEGORY_SWITCHES = (
    ("sms_reminders", "Booking reminders"),
    ("sms_account", "Account messages"),
    ("sms_marketing", "News and offers"),
)
FOLDER_NAMES = {
    "unread": "Unread",
    "read": "Read",
    "replied": "Replied",
    "archived": "Archived",
    "blocked": "Blocked",
}
ASSIGNMENT_VIEWS = {"mine": "Mine", "unassigned": "Unassigned"}


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def client_choices(session: Session, business_id: int) -> list[Client]:
    """The business's clients by name, for a picker (the first 500)."""
    return client_queries.clients_by_name(session, business_id, limit=500)


# ---------------------------------------------------------------------------- sign-in


@router.get("/")
def home(request: Request) -> RedirectResponse:
    target = "/inbox" if request.session.get(SESSION_ID) else "/login"
    return RedirectResponse(target, 303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"error": None, "email": ""})


@router.post("/login", response_model=None)
def login(
    request: Request,
    context: ContextDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        signed_in = sign_in(context, request, email, password)
    except LoginRefused as refused:
        page = render(
            request,
            "login.html",
            {"error": refused.message, "email": email},
            status_code=refused.status_code,
        )
        if isinstance(refused, TooManySignIns):
            page.headers["Retry-After"] = str(refused.retry_after)
        return page
    done = RedirectResponse("/inbox", 303)
    remember_device(context, done, signed_in)
    return done


@router.post("/logout")
def logout(
    request: Request, context: ContextDep, csrf: Annotated[str, Form()] = ""
) -> RedirectResponse:
    check_csrf(request, csrf)
    sign_out(context, request)
    return RedirectResponse("/login", 303)


# ---------------------------------------------------------------------------- inbox


@router.get("/inbox", response_class=HTMLResponse, response_model=None)
def inbox(
    page_of: PageDep,
    folder: FolderQuery = "all",
    q: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse | RedirectResponse:
    values = _list_context(page_of, ListState(folder, q, since, until, page))
    last = past_the_end(page_of.request, page, values["pages"])
    if last is not None:
        return last
    return page_of.render("inbox.html", values, status_code=400 if values["date_error"] else 200)


@router.get("/inbox/list", response_class=HTMLResponse)
def inbox_list(
    page_of: PageDep,
    folder: FolderQuery = "all",
    q: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    open_id: OptionalIdQuery = None,
) -> HTMLResponse:
    """The conversation list alone (folders with their counts, the list, the pager), for the
    live refresh: new conversations appear and the order follows the newest texts."""
    values = _list_context(page_of, ListState(folder, q, since, until, page))
    return fragment(
        page_of.request,
        "_conversation_list.html",
        values | {"business": page_of.business, "staff": page_of.staff, "open_id": open_id},
    )


@dataclass(frozen=True)
class ListState:
    """What the conversation list shows: a folder, a search, a date range, a page."""

    folder: str = "all"
    q: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    @property
    def query(self) -> str:
        return urlencode(
            {"folder": self.folder, "q": self.q, "since": self.since, "until": self.until}
        )


def _list_context(page_of: Page, state: ListState) -> dict[str, Any]:
    session, business = page_of.session, page_of.business
    since_at, until_at, date_error = day_range(state.since, state.until, business.timezone)
    search = read_query(state.q, number_country(business.country))
    staff = page_of.staff
    flt = queries.ConversationFilter(
        folder=state.folder if state.folder in FOLDER_NAMES else None,
        assignee_id=staff.id if state.folder == "mine" else None,
        unassigned=state.folder == "unassigned",
        search=search,
        since=since_at,
        until=until_at,
        limit=PAGE_SIZE,
        offset=(state.page - 1) * PAGE_SIZE,
        count_up_to=state.page * PAGE_SIZE + COUNT_AHEAD,
    )
    rows, total = queries.list_conversations(session, business.id, flt)
    counts = queries.folder_counts(session, business.id, FOLDER_NAMES, staff_id=staff.id)
    # The rows' consents and this staff member's read marks, in one read.
    marks = queries.row_marks(session, staff.id, [conversation.id for conversation, _ in rows])
    consents = {c.phone: marks[c.id].consent for c, _ in rows if c.id in marks}
    return {
        "conversations": present.conversations_out(
            session, business, rows, search, consents=consents
        ),
        # Bold for this staff member: a message newer than they last saw there.
        "new_for_me": assignment.new_among(marks),
        "assignment_views": ASSIGNMENT_VIEWS,
        "found": search.text if search else "",
        "total": total,
        "total_is_more": total == flt.count_up_to,  # "1,025+ conversations"
        "folder": state.folder,
        "folders": FOLDER_NAMES,
        "folder_counts": {
            name: str(n) if n < queries.FOLDER_COUNT_CAP else f"{queries.FOLDER_COUNT_CAP - 1}+"
            for name, n in counts.items()
        },
        "q": state.q,
        "since": state.since,
        "until": state.until,
        "date_error": date_error,
        "page": state.page,
        "pages": page_count(total, PAGE_SIZE),
        "list_query": state.query + f"&page={state.page}",
        "unread_total": assignment.badge_count(session, staff, business.unread_messages),
    }


def day_range(
    since: str, until: str, timezone: str
) -> tuple[datetime | None, datetime | None, str | None]:
    """Whole days, in the business's time zone, from a filter form (the end day included)."""
    zone = ZoneInfo(timezone)
    try:
        start = datetime.combine(date.fromisoformat(since), time(), zone) if since else None
        end = (
            datetime.combine(date.fromisoformat(until) + timedelta(days=1), time(), zone)
            if until
            else None
        )
        # In UTC here, as stored: the day after 9999-12-31, or a first day before UTC's
        # year 1, has no datetime (OverflowError, a 500 before), so they are refused too.
        start, end = (None if at is None else at.astimezone(UTC) for at in (start, end))
    except ValueError:
        return None, None, "Dates are written like 2026-11-30."
    except OverflowError:
        return None, None, "Dates run from 0001-01-02 to 9999-12-30."
    if start is not None and end is not None and start >= end:
        return None, None, "The first day comes after the last day: swap them."
    return start, end, None


# ---------------------------------------------------------------------------- conversation


@router.get("/conversations/new", response_class=HTMLResponse)
def new_message(page: PageDep, q: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """New message: find the client (name, email or phone as people write it, among all the
    business's clients), then open or start their conversation (the profile's "Text" form)."""
    found, more = find_clients(page, q)
    return page.render("new_message.html", {"q": q, "found": found, "more": more})


def find_clients(page: Page, typed: str) -> tuple[list[Client], bool]:
    """The clients a search finds among all the business's (name, email or phone as people
    write it), the first NEW_MESSAGE_RESULTS, and whether more match: New message's search,
    and "Who is this?" on an unidentified sender's conversation."""
    search = read_query(typed, number_country(page.business.country))
    if not search:
        return [], False
    found = client_queries.find_clients(
        page.session,
        page.business.id,
        search.text,
        search.phone_digits,
        limit=NEW_MESSAGE_RESULTS + 1,
    )
    return found[:NEW_MESSAGE_RESULTS], len(found) > NEW_MESSAGE_RESULTS


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    conversation_id: IdPath,
    page: PageDep,
    around: OptionalIdQuery = None,
    before: OptionalIdQuery = None,
    who: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The conversation beside the inbox list and the client's panel, with its composer;
    the newest messages (older ones load as staff scroll up, or `before` a message), or
    with `around` (a search result's message), the part of the thread around it. Reading
    it changes nothing: the page's script posts /read once it is shown (a GET stays safe to
    repeat, prefetch or crawl). For an unidentified sender, `who` searches the clients to
    link them to ("Who is this?"), among all the business's, as New message does."""
    thread = _conversation_context(page, conversation_id, around, before)
    candidates, more = find_clients(page, who) if thread["client"] is None else ([], False)
    return page.render(
        "conversation.html",
        thread
        | _list_context(page, ListState())
        | _client_panel(page, thread)
        | {"request_key": uuid.uuid4().hex, "open_id": conversation_id}
        | {"who": who, "candidates": candidates, "more_candidates": more},
    )


@router.get("/conversations/{conversation_id}/thread", response_class=HTMLResponse)
def thread_fragment(
    conversation_id: IdPath,
    page: PageDep,
    around: OptionalIdQuery = None,
    before: OptionalIdQuery = None,
    after: OptionalIdQuery = None,
) -> HTMLResponse:
    """The thread alone, for the page's script: the part shown (`around` a message, or the
    newest), the page `before` a message as staff scroll up, or the messages `after` the
    newest shown as they arrive (the page's script then posts /read: the staff member sees
    them, so they stay read)."""
    if after is not None:
        session, business = page.session, page.business
        service.get_conversation(session, business.id, conversation_id)
        messages = queries.messages_after(
            session, business.id, conversation_id, after, limit=THREAD_SIZE
        )
        # Notes from the newest message shown on: the page replaces those it shows already.
        shown = queries.get_message(session, business.id, after)
        since = shown.created_at if shown is not None else None
        values = _thread_values(page, conversation_id, messages, since=since) | {
            "older_before": None
        }
    else:
        values = _conversation_context(page, conversation_id, around, before)
    return fragment(page.request, "_thread.html", {"business": page.business, **values})


@router.post("/conversations/{conversation_id}/read")
def read(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> JSONResponse:
    """Opening a conversation is reading it, for the whole (shared) inbox: the page posts
    this when it is shown and after each live refresh of its thread. The answer is the new
    unread badge (other pages hear it as an unread.changed event once this commits)."""
    check_csrf(page.request, csrf)
    business, now = page.business, page.context.clock.now()
    conversation = service.mark_read(work.session, business.id, conversation_id, now)
    assignment.mark_seen(work.session, page.staff.id, conversation)  # this staff member's own
    notes.mentions_seen(work.session, page.staff.id, conversation.id, now)
    work.session.refresh(business)
    unread = assignment.badge_count(work.session, page.staff, business.unread_messages)
    return JSONResponse({"unread": unread})


def _conversation_context(
    page: Page, conversation_id: int, around: int | None = None, before: int | None = None
) -> dict[str, Any]:
    session, business = page.session, page.business
    newest, older = queries.thread_page(
        session, business.id, conversation_id, limit=THREAD_SIZE, before_id=before
    )
    messages = newest
    if around is not None and all(m.id != around for m in newest):
        # An older message of this thread (a search result): the part of it around that.
        found = queries.get_message(session, business.id, around)
        if found is not None and found.conversation_id == conversation_id:
            messages = queries.messages_around(
                session, business.id, conversation_id, around, limit=THREAD_SIZE
            )
            older = queries.thread_page(
                session, business.id, conversation_id, limit=1, before_id=messages[0].id
            )[1]
    # The notes written in the part of the thread shown: from its oldest message (from the
    # start if it is the first page) up to the next message not shown (to now if none).
    # (The newest messages have none after them: no read for it.)
    part = bool(messages) and (messages is not newest or before is not None)
    following = (
        queries.messages_after(session, business.id, conversation_id, messages[-1].id, limit=1)
        if part
        else []
    )
    values = _thread_values(
        page,
        conversation_id,
        messages,
        since=messages[0].created_at if messages and older else None,
        before=following[0].created_at if following else None,
    )
    last_inbound = next((m for m in reversed(messages) if m.direction == "inbound"), None)
    said_cancel = last_inbound is not None and normalize_keyword_text(last_inbound.body) == "cancel"
    return values | {
        # The newest messages, when shown from the thread's start (nothing older): the client
        # panel finds the thread's automated texts among them (_client_panel).
        "whole_thread": newest if before is None and not older and messages is newest else None,
        "said_cancel": said_cancel,
        "can_send": page.staff.can_send_sms,
        "max_body": MAX_BODY_CHARACTERS,
        "found_id": around if any(m.id == around for m in messages) else None,
        # The cursor for the page before this one: its oldest message (None at the start).
        "older_before": messages[0].id if messages and older else None,
        # Showing an older part of the thread: newer messages exist beyond it.
        "older_part": part and bool(following),
    }


def _thread_values(
    page: Page,
    conversation_id: int,
    messages: list[Message],
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """What _thread.html needs for these messages of the conversation, with the internal
    notes written from `since` to `before` among them, in time order."""
    session, business = page.session, page.business
    conversation, client, consent = service.conversation_shown(
        session, business.id, conversation_id
    )
    shown = present.messages_out(session, messages, replies_to(session, business, messages))
    written = notes.views(
        session,
        business.id,
        notes.notes_between(session, conversation, since=since, before=before),
    )
    entries: list[tuple[str, Any]] = [("message", m) for m in shown]
    entries += [("note", n) for n in written]
    entries.sort(key=lambda entry: (entry[1].created_at, entry[0] == "note"))
    return {
        "conversation": present.conversation_out(
            business, conversation, client, consent, present.assignee_name(session, conversation)
        ),
        "messages": shown,
        "entries": entries,
        "client": client,
        "consent": consent if consent and consent.opted_out else None,
        "found_id": None,
    }


def _client_panel(page: Page, thread: dict[str, Any]) -> dict[str, Any]:
    """The client panel beside the thread: the switches and the recent automated texts."""
    conversation = thread["conversation"]
    whole: list[Message] | None = thread.get("whole_thread")
    if whole is not None:  # the page holds every message: no read for them
        newest_first = [m for m in reversed(whole) if m.sender_type == SENDER_AUTOMATED]
        automated = newest_first[:RECENT_AUTOMATED]
    else:
        automated = queries.recent_automated(
            page.session, page.business.id, conversation.id, limit=RECENT_AUTOMATED
        )
    return {
        "recent_automated": automated,
        "switches": CATEGORY_SWITCHES,
        "assignable": queries.active_staff(page.session, page.business.id),
        "assignment_events": assignment.event_lines(
            page.session, page.business.id, conversation.id
        ),
    }


@router.post("/conversations/{conversation_id}/messages")
def reply(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    body: Annotated[str, Form(max_length=4000)] = "",
    action: Annotated[str, Form(max_length=20)] = "send",
    send_date: Annotated[str, Form(max_length=40)] = "",
    send_time: Annotated[str, Form(max_length=40)] = "",
    request_key: Annotated[str, Form(max_length=100)] = "",
    last_seen: Annotated[str, Form(pattern="^[0-9]{0,10}$")] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Send the text now, or (`action=schedule`) at the date and time given. `last_seen` is
    the newest message the page showed: a conversation someone wrote in since is not
    answered blindly (the newer text is shown, the draft kept, and sending again sends)."""
    check_csrf(page.request, csrf)
    staff, business = page.staff, page.business
    if not staff.can_send_sms:
        raise NotPermitted("You do not have permission to send SMS to clients.")
    session = work.session
    conversation = service.get_conversation(session, business.id, conversation_id)
    if action == "schedule":
        return _schedule(page, work, conversation, body, send_date, send_time, request_key)
    try:
        if last_seen:
            service.ensure_seen_through(session, conversation, int(last_seen))
        send_message(
            session,
            business,
            body=body,
            sender=Sender.staff(staff.id),
            conversation=conversation,
            at=page.context.clock.now(),
        )
    except service.ConversationChanged as changed:
        newest = changed.newer[-1]
        work.rollback()
        who = "The client wrote" if newest.direction == "inbound" else "Someone replied"
        return _back(
            page,
            conversation_id,
            error=f"{who} since you opened this conversation: “{service.preview(newest.body)}”. "
            "Your text was not sent and is still in the box: read the thread, then send it "
            "again if it still fits.",
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()  # the refusal is shown; nothing is kept
        return _back(page, conversation_id, error=refused.message)
    return _back(page, conversation_id)


@router.post("/conversations/{conversation_id}/state")
def change_state(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    action: Annotated[
        str, Form(pattern="^(pin|unpin|mute|unmute|archive|unarchive|unread|block|unblock)$")
    ],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    business = page.business
    if action == "unread":
        service.mark_unread(work.session, business.id, conversation_id)
        return RedirectResponse("/inbox", 303)  # leave it unread rather than reopen it
    if action == "block":
        service.block(work.session, business.id, conversation_id, page.context.clock.now())
        flash(page.request, "Blocked: its texts are kept, in the Blocked view, and out of "
              "the inbox and the unread count.", "note")  # fmt: skip
        return _back(page, conversation_id)
    if action == "unblock":
        service.unblock(work.session, business.id, conversation_id)
        return _back(page, conversation_id)
    try:
        _change_flags(work, business.id, conversation_id, action)
    except DomainError as refused:
        work.rollback()
        return _back(page, conversation_id, error=refused.message)
    return _back(page, conversation_id)


def _change_flags(work: UnitOfWork, business_id: int, conversation_id: int, action: str) -> None:
    flags = {
        "pin": {"pinned": True},
        "unpin": {"pinned": False},
        "mute": {"muted": True},
        "unmute": {"muted": False},
        "archive": {"archived": True},
        "unarchive": {"archived": False},
    }[action]
    service.update_flags(work.session, business_id, conversation_id, **flags)


@router.post("/conversations/{conversation_id}/assignee")
def assign(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    assignee_id: Annotated[str, Form(pattern="^[0-9]{0,10}$")] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Assign the conversation to a staff member of the business (empty: nobody)."""
    check_csrf(page.request, csrf)
    try:
        assignment.assign(
            work.session,
            page.business.id,
            conversation_id,
            int(assignee_id) if assignee_id else None,
            by=ChangedBy(staff_id=page.staff.id),
            at=page.context.clock.now(),
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _back(page, conversation_id, error=refused.message)
    return _back(page, conversation_id)


@router.post("/conversations/{conversation_id}/client")
def link_client(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    client_id: Annotated[str, Form(max_length=20)] = "",
    first_name: Annotated[str, Form(max_length=100)] = "",
    last_name: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Link an unidentified sender to a client, or save them as a new one."""
    check_csrf(page.request, csrf)
    session, business = work.session, page.business
    conversation = service.get_conversation(session, business.id, conversation_id)
    try:
        if client_id.strip():
            client = clients.get_client(session, business.id, int(client_id))
        else:
            client = clients.create_client(
                session,
                business,
                ClientChanges(
                    first_name=first_name, last_name=last_name, cell_phone=conversation.phone
                ),
                page.context.clock.now(),
            )
    except (DomainError, ValueError) as refused:
        work.rollback()
        message = refused.message if isinstance(refused, DomainError) else "Choose a client."
        return _back(page, conversation_id, error=message)
    service.link_client(session, business.id, conversation_id, client)
    return _back(page, conversation_id)


def _back(
    page: Page, conversation_id: int, error: str = "", scheduled: int = 0
) -> RedirectResponse:
    """Back to the conversation, saying what happened there (http/flash.py)."""
    if error:
        flash(page.request, error, "error")
    if scheduled:
        flash(page.request, "Scheduled: it goes at the time you chose.", "note",
              f"/bulk-sends/{scheduled}", "Change or cancel it")  # fmt: skip
    return redirect(f"/conversations/{conversation_id}")


@router.post("/conversations/{conversation_id}/switches")
def switch_category(
    conversation_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    switch: Annotated[str, Form(pattern="^(sms_reminders|sms_account|sms_marketing)$")],
    on: Annotated[str, Form(pattern="^[01]$")],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The client panel's switch for one category of automated texts (as on the profile)."""
    check_csrf(page.request, csrf)
    session, business = work.session, page.business
    conversation = service.get_conversation(session, business.id, conversation_id)
    if conversation.client_id is None:
        raise InvalidInput("Link this conversation to a client first.", field="client")
    clients.update_client(
        session,
        business,
        conversation.client_id,
        {
            "sms_reminders": ClientChanges(sms_reminders=on == "1"),
            "sms_account": ClientChanges(sms_account=on == "1"),
            "sms_marketing": ClientChanges(sms_marketing=on == "1"),
        }[switch],
        page.context.clock.now(),
    )
    return _back(page, conversation_id)


def _schedule(
    page: Page,
    work: UnitOfWork,
    conversation: Conversation,
    body: str,
    send_date: str,
    send_time: str,
    request_key: str,
) -> RedirectResponse:
    """The composer's Send later: a personal scheduled send to the conversation's client,
    changed or cancelled on its own page until it goes."""
    try:
        if conversation.client_id is None:
            raise InvalidInput(
                "Link this conversation to a client (below) before scheduling a text.",
                field="client",
            )
        send_at = scheduled_moment(page, send_date, send_time)
        if send_at is None:
            raise InvalidInput("Choose the date and time to send it.", field="send_date")
        bulk, _ = campaigns.create(
            work.session,
            page.business,
            request_key=request_key or uuid.uuid4().hex,
            body=body,
            category="personal",
            audience=campaigns.Audience(client_ids=(conversation.client_id,)),
            sender=Sender.staff(page.staff.id),
            at=page.context.clock.now(),
            send_at=send_at,
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _back(page, conversation.id, error=refused.message)
    return _back(page, conversation.id, scheduled=bulk.id)


# ---------------------------------------------------------------------------- composer


class CountIn(BaseModel):
    body: str = ""
    media: bool = False


@router.post("/app/segments")
def count(request: Request, page: PageDep, payload: CountIn) -> JSONResponse:
    """The composer's live counter: the server's own count, so page and server agree; and,
    as staff type, the acceptable-use rule the text breaks (the send would be refused)."""
    text = payload.body[: MAX_BODY_CHARACTERS * 2]
    info = count_segments(text)
    # The country the business's number is in (numbers take it from the business): no query.
    broken = active_rules().refusal(text, number_country(page.business.country))
    return JSONResponse(
        {
            "refused": {"rule": broken.id, "reason": broken.reason, "policy": broken.policy}
            if broken
            else None,
            "characters": info.characters,
            "length": len(payload.body.replace("\r\n", "\n")),
            "segments": info.segments,
            "encoding": info.encoding,
            "units": units_for(has_media=payload.media),
            "unicode_characters": info.unicode_characters[:10],
            "limit": MAX_BODY_CHARACTERS,
        }
    )


@router.get("/policies", response_class=HTMLResponse)
def policies(page: PageDep) -> HTMLResponse:
    """The carriers' acceptable-use and messaging policies in short, with the rules this
    app enforces before a text goes (the ones in force for this process)."""
    return page.render("policies.html", {"rules": active_rules().rules})
