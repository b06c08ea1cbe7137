"""Owner and staff pages beyond the inbox: All Clients and profiles, SMS history with CSV,
usage, settings (SMS number, help text, API keys) and staff."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session

from messagecenter.apikeys import service as api_keys
from messagecenter.businesses import queries as business_queries
from messagecenter.businesses import service as businesses
from messagecenter.businesses import usage
from messagecenter.campaigns import service as campaigns
from messagecenter.clients import queries as client_queries
from messagecenter.clients import report
from messagecenter.clients import service as clients
from messagecenter.clients.phone import parse_cell_phone
from messagecenter.clients.service import ClientChanges
from messagecenter.consent import queries as consent_queries
from messagecenter.conversations import history
from messagecenter.conversations import queries as conversation_queries
from messagecenter.errors import DomainError, InvalidInput, NotFound
from messagecenter.http.csrf import check_csrf
from messagecenter.http.deps import UnitOfWork, UnitOfWorkDep
from messagecenter.http.flash import flash
from messagecenter.http.pages import past_the_end, redirect
from messagecenter.http.readable import phone_text
from messagecenter.http.types import IdPath
from messagecenter.models import ApiKey, Client, StaffMember
from messagecenter.models.ids import MAX_ID
from messagecenter.numbers import queries as number_queries
from messagecenter.numbers import service as numbers
from messagecenter.numbers.countries import NUMBER_TYPE, number_country
from messagecenter.numbers.rates import default_send_rate
from messagecenter.staff import service as staff_service
from messagecenter.web.pages import OwnerPageDep, Page, PageDep
from messagecenter.web.routes import client_choices, day_range, find_clients, page_count

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


# ---------------------------------------------------------------------------- clients


@router.get("/clients", response_class=HTMLResponse, response_model=None)
def all_clients(
    page_of: PageDep,
    show: Annotated[str, Query(pattern="^(all|no_valid_cell_phone|unsubscribed)$")] = "all",
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse | RedirectResponse:
    rows, total = report.client_report(
        page_of.session,
        page_of.business.id,
        show=show,  # type: ignore[arg-type]
        search=q or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    last = past_the_end(page_of.request, page, page_count(total, PAGE_SIZE))
    if last is not None:
        return last
    return page_of.render(
        "clients.html",
        {"rows": rows, "total": total, "show": show, "q": q, "page": page,
         "pages": page_count(total, PAGE_SIZE)},
    )  # fmt: skip


@router.get("/clients/new", response_class=HTMLResponse)
def new_client_page(page: PageDep) -> HTMLResponse:
    return page.render("client.html", _new_client())


def _new_client() -> dict[str, Any]:
    return {"client": None, "error": None, "field": None, "form": {}, "history": [],
            "consent": None, "time_zones": clients.time_zones()}  # fmt: skip


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client_page(client_id: IdPath, page: PageDep) -> HTMLResponse:
    client = clients.get_client(page.session, page.business.id, client_id)
    return page.render("client.html", _client_context(page.session, page.business.id, client))


def _client_context(session: Session, business_id: int, client: Client) -> dict[str, Any]:
    phone = client.cell_phone
    consent = consent_queries.consent_for(session, business_id, phone) if phone else None
    return {
        "client": client,
        "error": None,
        "field": None,
        "form": {},
        "consent": consent if consent and consent.opted_out else None,
        "history": consent_queries.consent_history(session, business_id, phone) if phone else [],
        "time_zones": clients.time_zones(),
    }


@router.post("/clients", response_model=None)
@router.post("/clients/{client_id}", response_model=None)
def save_client(
    page: PageDep,
    work: UnitOfWorkDep,
    client_id: int | None = None,
    first_name: Annotated[str, Form(max_length=100)] = "",
    last_name: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    cell_phone: Annotated[str, Form(max_length=40)] = "",
    sms_reminders: Annotated[str, Form()] = "",
    sms_account: Annotated[str, Form()] = "",
    sms_marketing: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    same_phone: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """Save the profile. A cell phone another client already has is saved only once staff
    have seen who has it and what its consent says (`same_phone`: the number they agreed
    to, so a number changed after the warning is asked about again)."""
    check_csrf(page.request, csrf)
    if client_id is not None and not 1 <= client_id <= MAX_ID:
        raise NotFound("No such client.")
    session, business, now = work.session, page.business, page.context.clock.now()
    form = dict(first_name=first_name, last_name=last_name, email=email, cell_phone=cell_phone,
                timezone=timezone)  # fmt: skip
    shared = clients.shared_cell_phone(session, business, cell_phone, client_id)
    if shared is not None and same_phone != shared.cell_phone:
        existing = clients.get_client(session, business.id, client_id) if client_id else None
        values = _client_context(session, business.id, existing) if existing else _new_client()
        return page.render("client.html", values | {"form": form, "shared": shared})
    changes = ClientChanges(
        first_name=first_name,
        last_name=last_name,
        email=email,
        cell_phone=cell_phone,
        sms_reminders=bool(sms_reminders),
        sms_account=bool(sms_account),
        sms_marketing=bool(sms_marketing),
        timezone=timezone,
    )
    try:
        if client_id is None:
            client = clients.create_client(session, business, changes, now)
        else:
            client = clients.update_client(session, business, client_id, changes, now)
    except InvalidInput as refused:
        work.rollback()  # the form comes back with the message; nothing is kept
        existing = clients.get_client(session, business.id, client_id) if client_id else None
        values = _client_context(session, business.id, existing) if existing else _new_client()
        values |= {"error": refused.message, "field": refused.field, "form": form}
        return page.render("client.html", values, status_code=400)
    flash(page.request, "Saved.")
    return redirect(f"/clients/{client.id}")


@router.post("/clients/{client_id}/text")
def text_client(
    client_id: IdPath,
    page: PageDep,
    work: UnitOfWorkDep,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Open (or start) the conversation with this client."""
    check_csrf(page.request, csrf)
    session, business = work.session, page.business
    client = clients.get_client(session, business.id, client_id)
    if not client.cell_phone:
        return redirect(f"/clients/{client_id}")
    conversation = conversation_queries.ensure_conversation(
        session, business.id, client.cell_phone, client.id, page.context.clock.now()
    )
    if conversation.client_id is None:
        conversation.client_id = client.id
    return redirect(f"/conversations/{conversation.id}")


@router.get("/app/check-cell-phone")
def check_cell_phone(
    page: PageDep,
    phone: Annotated[str, Query(max_length=40)] = "",
) -> JSONResponse:
    """Validation as you type, with the same rule the save uses."""
    if not phone.strip():
        return JSONResponse({"ok": True, "message": "", "e164": None})
    try:
        e164 = parse_cell_phone(phone, page.business.country)
    except InvalidInput as refused:
        return JSONResponse({"ok": False, "message": refused.message, "e164": None})
    # Read back as the business writes numbers (E.164, as stored, stays in "e164").
    shown = phone_text(e164, page.business.country)
    return JSONResponse({"ok": True, "message": f"Will be saved as {shown}", "e164": e164})


# ---------------------------------------------------------------------------- history


@dataclass
class HistoryQuery:
    """The history page's filters, shared by the page and its CSV export."""

    since: Annotated[str, Query(max_length=10)] = ""
    until: Annotated[str, Query(max_length=10)] = ""
    direction: Annotated[str, Query(pattern="^(|inbound|outbound)$")] = ""
    status: Annotated[str, Query(max_length=20)] = ""
    sender: Annotated[str, Query(max_length=40)] = ""
    client_id: Annotated[str, Query(max_length=20)] = ""

    def params(self) -> dict[str, str]:
        return asdict(self)

    def to_filter(self, timezone: str) -> tuple[history.HistoryFilter, str | None]:
        start, end, error = day_range(self.since, self.until, timezone)
        flt = history.HistoryFilter(
            since=start,
            until=end,
            direction=self.direction or None,
            status=self.status or None,
            sender=self.sender or None,
            client_id=int(self.client_id) if self.client_id.isdigit() else None,
        )
        return flt, error


HistoryQueryDep = Annotated[HistoryQuery, Depends()]


@router.get("/history", response_class=HTMLResponse, response_model=None)
def history_page(
    page_of: PageDep,
    query: HistoryQueryDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    find: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    session, business = page_of.session, page_of.business
    flt, error = query.to_filter(business.timezone)
    rows = history.history_page(
        session,
        business.id,
        flt,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        timezone=business.timezone,
    )
    totals = history.history_totals(session, business.id, flt)
    last = past_the_end(page_of.request, page, page_count(totals.messages, PAGE_SIZE))
    if last is not None:
        return last
    params = query.params()
    senders = [("automated", "Automated"), ("client", "Client"), ("carrier", "Carrier")]
    senders += [(f"staff:{m.id}", m.name) for m in staff_service.list_staff(session, business.id)]
    senders += [(f"api_key:{k.id}", f"API key: {k.name}")
                for k in api_keys.list_api_keys(session, business.id)]  # fmt: skip
    return page_of.render(
        "history.html",
        {"rows": rows, "totals": totals, "error": error, "params": params, "page": page,
         "pages": page_count(totals.messages, PAGE_SIZE), "senders": senders,
         "clients": _history_clients(page_of, find, flt.client_id), "find": find,
         "query": urlencode(params)},
        status_code=400 if error else 200,
    )  # fmt: skip


def _history_clients(page: Page, find: str, chosen: int | None) -> list[Client]:
    """The client filter's choices: what "Find a client" found among all the business's
    clients (name or phone as people write it), else the first 500 by name; the client
    filtered on is always among them."""
    session, business_id = page.session, page.business.id
    choices = find_clients(page, find)[0] if find.strip() else client_choices(session, business_id)
    if chosen is not None and all(c.id != chosen for c in choices):
        client = client_queries.get_client(session, business_id, chosen)
        choices = [client, *choices] if client is not None else choices
    return choices


@router.get("/history.csv")
def history_export(page: PageDep, query: HistoryQueryDep) -> StreamingResponse:
    business = page.business
    flt, error = query.to_filter(business.timezone)
    if error:
        raise InvalidInput(error, field="since")
    name = f"sms-history-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    return StreamingResponse(
        history.history_csv(page.session, business.id, flt, business.timezone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---------------------------------------------------------------------------- usage


@router.get("/usage", response_class=HTMLResponse)
def usage_page(page: PageDep) -> HTMLResponse:
    session, business = page.session, page.business
    summary = usage.summarize(session, business, page.context.clock.now())
    zone = ZoneInfo(business.timezone)
    start = datetime.combine(summary.period_start, time(), zone)
    end = datetime.combine(summary.period_end, time(), zone)
    daily = business_queries.daily_units(session, business.id, start, end, business.timezone)
    days = []
    day = summary.period_start
    while day < summary.period_end:
        days.append((day, *daily.get(day, (0, 0))))
        day += timedelta(days=1)
    peak = max([i + o for _, i, o in days] + [1])
    return page.render(
        "usage.html",
        {"summary": summary, "days": days, "peak": peak,
         "last_day": summary.period_end - timedelta(days=1),
         "plan": business_queries.get_plan(session, business.plan_id),
         "percent": min(100, round(100 * summary.used / summary.allowance))
         if summary.allowance else 100},
        usage_summary=summary,
    )  # fmt: skip


# ---------------------------------------------------------------------------- settings


@router.get("/settings", response_class=HTMLResponse)
def settings_page(page: OwnerPageDep) -> HTMLResponse:
    return _settings_page(page)


def _settings_page(
    page: Page, confirm: str = "", new_key: str = "", revoking: ApiKey | None = None
) -> HTMLResponse:
    session, business = page.session, page.business
    active = business_queries.active_number(session, business.id)
    suggestions: list[str] = []
    suggestion_error = None
    try:
        suggestions = numbers.suggest_numbers(session, business, page.context.carrier)
    except Exception as exc:  # the carrier may be away; the page still works
        suggestion_error = f"Numbers could not be suggested just now: {exc}"
    country = number_country(business.country)
    return page.render(
        "settings.html",
        {"active": active, "suggestions": suggestions, "suggestion_error": suggestion_error,
         "number_type": NUMBER_TYPE[country], "number_country": country,
         "confirm": confirm,
         "warning": numbers.change_warning(phone_text(active.phone_number, business.country))
         if active and confirm else "",
         "history": number_queries.numbers_of(session, business.id),
         "unrouted_count": business_queries.unrouted_count(session, business.id),
         "keys": api_keys.list_api_keys(session, business.id), "new_key": new_key,
         "revoking": revoking,
         "default_rate": (
             default_send_rate(active.phone_number, active.country) if active else None
         )},
    )  # fmt: skip


@router.post("/settings/number", response_model=None)
def choose_number(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    phone_number: Annotated[str, Form(max_length=40)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    check_csrf(page.request, csrf)
    session, business, context = work.session, page.business, page.context
    active = business_queries.active_number(session, business.id)
    try:
        if active is None:
            numbers.enable_messaging(
                session, business, context.carrier, phone_number,
                context.settings.public_url, context.clock.now(), on_rollback=work.on_rollback,
            )  # fmt: skip
        elif confirm != "yes":
            # Show the warning and ask again, with the chosen number kept (on this answer,
            # not in a URL that anyone could send with any number in it).
            return _settings_page(page, confirm=phone_number)
        else:
            numbers.change_number(
                session, business, context.carrier, phone_number,
                context.settings.public_url, context.clock.now(), confirmed=True,
                on_rollback=work.on_rollback,
            )  # fmt: skip
    except DomainError as refused:
        work.rollback()
        return _refused(page, "/settings", refused.message)
    return redirect("/settings")


def _refused(page: Page, path: str, message: str) -> RedirectResponse:
    """Back to `path`, saying why (in the session, shown once: http/flash.py)."""
    flash(page.request, message, "error")
    return redirect(path)


@router.post("/settings/keyword-answers")
def save_keyword_answers(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    answered_by: Annotated[str, Form(pattern="^(carrier|app)$")] = "carrier",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    by_app = answered_by == "app"
    return _saved(
        page, work, lambda: numbers.set_keyword_answers(work.session, page.business, by_app=by_app)
    )


@router.post("/settings/send-rate")
def save_send_rate(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    send_rate: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    try:
        rate = _whole_or_none(send_rate)
    except ValueError:
        return _refused(page, "/settings", "Give the texts a second as a whole number.")
    return _saved(page, work, lambda: numbers.set_send_rate(work.session, page.business, rate))


@router.post("/settings/quiet-hours")
def save_quiet_hours(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    strict_state_hours: Annotated[str, Form(pattern="^(|1)$")] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    businesses.set_strict_state_hours(page.business, keep=strict_state_hours == "1")
    return redirect("/settings")


@router.post("/settings/marketing-cap")
def save_marketing_cap(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    marketing_cap: Annotated[str, Form(max_length=10)] = "",
    marketing_cap_days: Annotated[str, Form(max_length=10)] = "30",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    try:
        texts, days = _whole_or_none(marketing_cap), int(marketing_cap_days)
    except ValueError:
        return _refused(page, "/settings", "Give whole numbers for the frequency cap.")
    return _saved(page, work, lambda: campaigns.set_marketing_cap(page.business, texts, days))


def _whole_or_none(value: str) -> int | None:
    """A form's optional whole number (empty: none); ValueError for anything else."""
    return int(value) if value.strip() else None


def _saved(page: Page, work: UnitOfWork, change: Callable[[], object]) -> RedirectResponse:
    """Back to Settings after a change; a refused one rolls back and says why there."""
    try:
        change()
    except DomainError as refused:
        work.rollback()
        return _refused(page, "/settings", refused.message)
    return redirect("/settings")


@router.post("/settings/api-keys", response_model=None)
def create_key(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    name: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(page.request, csrf)
    try:
        _, secret = api_keys.create_api_key(
            work.session, page.business.id, name, page.context.clock.now()
        )
    except DomainError as refused:
        work.rollback()
        return _refused(page, "/settings", refused.message)
    # The secret is shown once, on this response only; it is stored only as a hash. The key
    # commits as the route returns: a failed commit is a 500, never a secret that works not.
    return _settings_page(page, new_key=secret)


@router.post("/settings/api-keys/{key_id}/revoke", response_model=None)
def revoke_key(
    key_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """Revoke a key once the owner confirms: whatever uses it stops working at once."""
    check_csrf(page.request, csrf)
    key = api_keys.get_api_key(work.session, page.business.id, key_id)
    if confirm != "yes" and key.revoked_at is None:
        return _settings_page(page, revoking=key)
    api_keys.revoke_api_key(work.session, page.business.id, key_id, page.context.clock.now())
    flash(page.request, f"The key “{key.name}” is revoked.")
    return redirect("/settings")


# ---------------------------------------------------------------------------- staff


@router.get("/staff", response_class=HTMLResponse)
def staff_page(page: OwnerPageDep) -> HTMLResponse:
    return _staff_page(page)


def _staff_page(
    page: Page, *, added: str = "", resetting: StaffMember | None = None
) -> HTMLResponse:
    return page.render(
        "staff.html",
        {"members": staff_service.list_staff(page.session, page.business.id), "added": added,
         "resetting": resetting},
    )  # fmt: skip


@router.post("/staff", response_model=None)
def add_staff(
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    email: Annotated[str, Form(max_length=254)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=10)] = "staff",
    can_send_sms: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    check_csrf(page.request, csrf)
    password = staff_service.generate_password()
    try:
        member = staff_service.create_staff_member(
            work.session, business_id=page.business.id, email=email, name=name, role=role,
            can_send_sms=bool(can_send_sms), password=password, at=page.context.clock.now(),
        )  # fmt: skip
    except DomainError as refused:
        work.rollback()
        return _refused(page, "/staff", refused.message)
    # Shown on this response only (never in a URL, where logs and history would keep it).
    added = f"{member.email} can sign in with the password {password}"
    return _staff_page(page, added=added)


@router.post("/staff/{staff_id}")
def change_staff(
    staff_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    action: Annotated[
        str, Form(pattern="^(allow_send|deny_send|make_owner|make_staff|deactivate|activate)$")
    ],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(page.request, csrf)
    actions: dict[str, dict[str, Any]] = {
        "allow_send": {"can_send_sms": True},
        "deny_send": {"can_send_sms": False},
        "make_owner": {"role": "owner"},
        "make_staff": {"role": "staff"},
        "deactivate": {"active": False},
        "activate": {"active": True},
    }
    changes = actions[action]
    try:
        staff_service.update_staff_member(
            work.session, page.business.id, staff_id, acting=page.staff, **changes
        )
    except DomainError as refused:
        if refused.status_code == 404:
            raise
        work.rollback()
        return _refused(page, "/staff", refused.message)
    return redirect("/staff")


@router.post("/staff/{staff_id}/password", response_model=None)
def reset_staff_password(
    staff_id: IdPath,
    page: OwnerPageDep,
    work: UnitOfWorkDep,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """A new password for a staff member who forgot theirs (or whose leaked), after the
    owner confirms: shown to the owner once, on this answer, and every session the member
    had is ended."""
    check_csrf(page.request, csrf)
    member = staff_service.staff_member(work.session, page.business.id, staff_id)
    if member.id == page.staff.id:
        # Signed in, the owner knows it; a reset here would sign them out mid-page.
        return _refused(page, "/staff", "Your own password is reset by another owner, or by "
                        "the operator with `messagecenter staff reset-password`.")  # fmt: skip
    if confirm != "yes":
        return _staff_page(page, resetting=member)  # ask first: it signs them out
    password = staff_service.reset_password(work.session, member)
    # Shown on this response only (never in a URL, where logs and history would keep it).
    added = f"{member.email} can now sign in with the new password {password}"
    return _staff_page(page, added=added)
