"""The `messagecenter` command: serve | worker | db upgrade | demo | business create | plan."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from types import FrameType
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from messagecenter.config import Settings
from messagecenter.errors import DomainError
from messagecenter.logs import configure_logging, logging_config

log = logging.getLogger("messagecenter")

# `serve`: how long open connections may take to finish once SIGTERM arrives.
GRACEFUL_SHUTDOWN_SECONDS = 5


def main(argv: list[str] | None = None) -> int:
    """Run a command. A bad setting, option or database answers one line on stderr saying
    what to fix, and a non-zero exit; a traceback means a bug."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from messagecenter.carriers.base import CarrierError
    from messagecenter.db import DatabaseUnavailable, unavailable

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in exc.errors():
            print(f"error: {_setting_problem(problem)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)  # text or JSON lines, with request ids (logs.py)
    try:
        result: int = args.handler(settings, args)
        return result
    except DomainError as exc:
        field = f" ({exc.field})" if exc.field else ""
        print(f"error{field}: {exc.message}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, InterfaceError) as exc:
        # The database's operation, not the program's: unreachable, unopenable, locked.
        print(f"error: {unavailable(exc, settings.database_url)}", file=sys.stderr)
        return 2
    except CarrierError as exc:
        print(f"error: {exc.message.splitlines()[0]}", file=sys.stderr)
        return 1


def _setting_problem(problem: ErrorDetails) -> str:
    """'MESSAGECENTER_CARRIER: Input should be ...', named as the environment names it."""
    message = problem["msg"].removeprefix("Value error, ")
    name = ".".join(str(part) for part in problem["loc"])
    if not name:  # a rule across settings: its message names them
        return message
    variable = name if name.isupper() else f"MESSAGECENTER_{name.upper()}"
    value = problem.get("input")
    shown = f" (is {value!r})" if isinstance(value, str | int | float) else ""
    return f"{variable}{shown}: {message}"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 1 to 65535")
    return port


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
    return number


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="messagecenter",
        description="Message Center: two-way SMS between small businesses and their clients. "
        "Configuration comes from MESSAGECENTER_* environment variables (see README).",
    )
    commands = parser.add_subparsers(required=True, metavar="command")

    serve = commands.add_parser(
        "serve", help="apply pending migrations, then serve the web app, API and dispatcher"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="web processes on this port (PostgreSQL only; SQLite takes one process)",
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="run no background worker in these processes: no outbox dispatch, no inbound-queue "
        "processing, no settling (PostgreSQL only: leave all of it to `worker` processes)",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker",
        help="run the background worker only: inbound queue, outbox, settling (PostgreSQL)",
    )
    worker.set_defaults(handler=_worker)

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(required=True, metavar="db-command")
    upgrade = db_commands.add_parser("upgrade", help="apply pending migrations")
    upgrade.set_defaults(handler=_db_upgrade)

    demo = commands.add_parser(
        "demo", help="create the demo business on the simulated carrier (safe to run twice)"
    )
    demo.set_defaults(handler=_demo)

    business = commands.add_parser("business", help="operator commands for businesses")
    business_commands = business.add_subparsers(required=True, metavar="business-command")
    create = business_commands.add_parser(
        "create", help="create a business and its owner; prints the password and an API key"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--country", required=True, help="ISO code: US, CA, AU, GB, IE, IM, JE, GG")
    create.add_argument("--timezone", required=True, help="IANA name, e.g. America/New_York")
    create.add_argument("--business-phone", required=True, help="the business's own phone")
    create.add_argument("--allowance", type=int, required=True, help="messages a month")
    create.add_argument(
        "--policy",
        choices=["hard_stop", "allow_overage"],
        default="hard_stop",
        help="when the allowance is used up: refuse sends, or allow and bill overage",
    )
    create.add_argument("--overage-price", default="0", help="price per unit over the allowance")
    create.add_argument(
        "--currency",
        help="ISO 4217 code of the plan's prices; default the country's (USD, CAD, GBP, AUD, EUR)",
    )
    create.add_argument(
        "--spending-cap", help="at most this much overage a month (allow_overage); default none"
    )
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-name", default="")
    create.add_argument(
        "--sms-number",
        default="none",
        help="'auto' takes the first suggested number, a number takes that suggestion, "
        "'none' (default) leaves choosing to the owner",
    )
    create.set_defaults(handler=_business_create)
    plan = business_commands.add_parser(
        "plan",
        help="show a business's plan and its changes; with a change option, change it at once "
        "(recorded with --by)",
    )
    plan.add_argument("--business", type=int, required=True, help="business id")
    plan.add_argument("--allowance", type=int, help="messages a month")
    plan.add_argument(
        "--policy",
        choices=["hard_stop", "allow_overage"],
        help="when the allowance is used up: refuse sends, or allow and bill overage",
    )
    plan.add_argument("--overage-price", help="price per unit over the allowance")
    plan.add_argument("--currency", help="ISO 4217 code the prices are in, e.g. USD")
    cap = plan.add_mutually_exclusive_group()
    cap.add_argument("--spending-cap", help="at most this much overage a month (allow_overage)")
    cap.add_argument("--no-spending-cap", action="store_true", help="lift the spending cap")
    plan.add_argument("--by", help="who is changing the plan, recorded with it (e.g. alice@ops)")
    plan.add_argument("--note", default="", help="why, recorded with the change")
    plan.set_defaults(handler=_business_plan)

    staff = commands.add_parser("staff", help="a business's staff logins")
    staff_commands = staff.add_subparsers(required=True, metavar="staff-command")
    reset = staff_commands.add_parser(
        "reset-password",
        help="give a login a new password (the business owner's, or --email's) and print it; "
        "their sessions end",
    )
    reset_whom = reset.add_mutually_exclusive_group(required=True)
    reset_whom.add_argument("--business", type=int, help="business id: reset its owner's")
    reset_whom.add_argument("--email", help="the login's email (an owner's or a staff member's)")
    reset.set_defaults(handler=_staff_reset_password)

    number = commands.add_parser("number", help="a business's SMS number")
    number_commands = number.add_subparsers(required=True, metavar="number-command")
    suggest = number_commands.add_parser("suggest", help="list the numbers the business may pick")
    suggest.add_argument("--business", type=int, required=True, help="business id")
    suggest.set_defaults(handler=_number_suggest)
    enable = number_commands.add_parser("enable", help="enable Message Center with a suggestion")
    enable.add_argument("--business", type=int, required=True, help="business id")
    enable.add_argument("--phone-number", required=True, help="one of the suggested numbers")
    enable.set_defaults(handler=_number_enable)
    change = number_commands.add_parser(
        "change", help="move to another suggested number and release the old one"
    )
    change.add_argument("--business", type=int, required=True, help="business id")
    change.add_argument("--phone-number", required=True, help="one of the suggested numbers")
    change.add_argument(
        "--yes",
        action="store_true",
        help="confirm, having read the warning that replies to the old number will be lost",
    )
    change.set_defaults(handler=_number_change)

    twilio = commands.add_parser("twilio", help="Twilio commands")
    twilio_commands = twilio.add_subparsers(required=True, metavar="twilio-command")
    check = twilio_commands.add_parser(
        "check", help="say whether TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN work"
    )
    check.set_defaults(handler=_twilio_check)

    inbound = commands.add_parser("inbound", help="client texts waiting in the inbound queue")
    inbound_commands = inbound.add_subparsers(required=True, metavar="inbound-command")
    parked = inbound_commands.add_parser(
        "parked", help="list the queued texts the worker gave up on (and why)"
    )
    parked.add_argument(
        "--retry", action="store_true", help="put them back for the worker to process again"
    )
    parked.set_defaults(handler=_inbound_parked)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from messagecenter.app import create_app
    from messagecenter.migrate import upgrade

    if args.no_worker and settings.is_sqlite:
        print("error: on SQLite the background worker must run inside `serve`.", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.is_sqlite:
        print(
            "error: SQLite takes a single `serve` process; use PostgreSQL for --workers.",
            file=sys.stderr,
        )
        return 2
    if settings.carrier == "twilio":
        from messagecenter.carriers.twilio.carrier import TwilioCarrier

        TwilioCarrier(settings)  # missing credentials said here, not in each web process
    elif not _is_loopback(args.host):
        opened = (
            "anyone who reaches it can text any business as a client "
            "(MESSAGECENTER_SIMULATOR_OPEN is set)"
            if settings.simulator_open
            else "a business's API key or staff sign-in can text its number as any client"
        )
        print(
            f"warning: the simulated carrier is listening beyond this machine ({args.host}): "
            f"no real texts are sent, and {opened}. Use MESSAGECENTER_CARRIER=twilio in "
            "production.",
            file=sys.stderr,
        )
    upgrade(settings.database_url)
    print(f"Message Center is at http://{args.host}:{args.port}  (carrier: {settings.carrier})")
    # proxy_headers off: X-Forwarded-For is believed only from MESSAGECENTER_TRUSTED_PROXIES
    # (web/auth.py), not from whatever connects over loopback as uvicorn would by default.
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        # Its own logs through ours (and in each --workers process); its access log stays off:
        # RequestLog writes one line per request, with its id.
        "log_config": logging_config(settings.log_format),
        "access_log": False,
        "proxy_headers": False,
        # Open connections (every staff page holds an event stream) get this long to finish
        # before uvicorn cancels them and the lifespan stops the dispatcher.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    # uvicorn shuts down gracefully on SIGTERM (the app's lifespan lets the worker finish its
    # carrier call and give back what it claimed), then raises the signal again for the handler
    # it found: this one ends the process with status 0 rather than death by the signal.
    signal.signal(signal.SIGTERM, _exit_after_shutdown)
    if args.workers > 1:
        from messagecenter.metrics import use_private_directory

        # Before the worker processes start: their counters sum in one directory (metrics.py).
        use_private_directory()
        factory = "create_web_app_from_env" if args.no_worker else "create_app_from_env"
        uvicorn.run(f"messagecenter.app:{factory}", factory=True, workers=args.workers, **options)
        return 0
    app = create_app(settings, run_dispatcher=not args.no_worker, server_gc=True)
    context = app.state.context

    class StopDispatchingAtOnce(uvicorn.Server):
        # The dispatcher claims nothing more from the signal on, not only once HTTP drained.
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            context.stop_dispatching()
            super().handle_exit(sig, frame)

    server = StopDispatchingAtOnce(uvicorn.Config(app, **options))
    server.run()
    return 0 if server.started else 3


def _exit_after_shutdown(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from messagecenter.context import build_context

    if settings.is_sqlite:
        print(
            "error: workers share a PostgreSQL database; on SQLite `serve` dispatches itself.",
            file=sys.stderr,
        )
        return 2
    from messagecenter import collector
    from messagecenter.sending.dispatcher import STOP_WAIT_SECONDS

    context = build_context(settings)
    collector.tune_for_server()
    stop = context.stopping
    signal.signal(signal.SIGTERM, lambda *_: context.stop_dispatching())
    signal.signal(signal.SIGINT, lambda *_: context.stop_dispatching())
    loop = threading.Thread(
        target=context.worker.run_forever, args=(stop,), name="worker", daemon=True
    )
    loop.start()
    stop.wait()
    log.info("stopping: finishing the carrier call in flight (up to %.0f s)", STOP_WAIT_SECONDS)
    loop.join(timeout=STOP_WAIT_SECONDS)
    if loop.is_alive():
        log.error("the worker did not stop in time; its call is settled by lookup")
        return 1
    return 0


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from messagecenter.migrate import upgrade

    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from messagecenter.context import build_context
    from messagecenter.db import session_scope
    from messagecenter.demo import DEMO_API_KEY, DEMO_OWNER_EMAIL, DEMO_PASSWORD, ensure_demo
    from messagecenter.migrate import upgrade

    upgrade(settings.database_url)
    context = build_context(settings)
    with session_scope(context.sessions) as session:
        demo = ensure_demo(session, context.carrier, settings.public_url, context.clock.now())
    state = "created" if demo.created else "already there"
    print(
        f"Demo business {state}.\n"
        f"  Open:      {settings.public_url}\n"
        f"  Log in:    {DEMO_OWNER_EMAIL} / {DEMO_PASSWORD}\n"
        f"  API key:   {DEMO_API_KEY}\n"
        f"  SMS number (simulated): {demo.sms_number}\n"
        f"  Try:       curl -H 'Authorization: Bearer {DEMO_API_KEY}' "
        f"{settings.public_url}/api/v1/conversations"
    )
    return 0


def _business_create(settings: Settings, args: argparse.Namespace) -> int:
    from messagecenter.businesses.service import NewBusiness, create_business
    from messagecenter.context import build_context
    from messagecenter.db import session_scope
    from messagecenter.migrate import upgrade
    from messagecenter.numbers.service import enable_messaging, suggest_numbers

    price = _amount(args.overage_price, "overage_price_per_unit")
    cap = _amount(args.spending_cap, "monthly_spending_cap")
    if price is None or (args.spending_cap is not None and cap is None):
        return 2
    upgrade(settings.database_url)
    context = build_context(settings)
    with session_scope(context.sessions) as session:
        now = context.clock.now()
        created = create_business(
            session,
            NewBusiness(
                name=args.name,
                country=args.country,
                timezone=args.timezone,
                business_phone=args.business_phone,
                monthly_allowance=args.allowance,
                overage_policy=args.policy,
                overage_price_per_unit=price,
                owner_email=args.owner_email,
                owner_name=args.owner_name,
                currency=args.currency,
                monthly_spending_cap=cap,
            ),
            now,
        )
        number = None
        if args.sms_number != "none":
            suggestions = suggest_numbers(session, created.business, context.carrier)
            chosen = (
                suggestions[0] if args.sms_number == "auto" and suggestions else args.sms_number
            )
            number = enable_messaging(
                session, created.business, context.carrier, chosen, settings.public_url, now
            )
        business_id = created.business.id
    print(f"Business {business_id} created: {args.name}")
    print(f"  Owner login:  {args.owner_email.strip().lower()} / {created.owner_password}")
    print(f"  API key:      {created.api_key}   (shown once; stored only as a hash)")
    if number is not None:
        print(f"  SMS number:   {number.phone_number}")
    return 0


def _amount(text: str | None, field: str) -> Decimal | None:
    """A money option as a Decimal; None (said on stderr) when it is no number."""
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        print(f"error ({field}): give a number such as 0.05", file=sys.stderr)
        return None


def _business_plan(settings: Settings, args: argparse.Namespace) -> int:
    """Without a change option, the plan and its history; with one, the change (named by
    --by) applied at once, then the plan as it now stands."""
    from messagecenter.businesses.plans import ChangedBy, PlanEdit, change_plan
    from messagecenter.models.business import CHANGED_VIA_CLI

    price = _amount(args.overage_price, "overage_price_per_unit")
    cap = _amount(args.spending_cap, "monthly_spending_cap")
    if (args.overage_price is not None and price is None) or (
        args.spending_cap is not None and cap is None
    ):
        return 2
    edit = PlanEdit(
        monthly_allowance=args.allowance,
        overage_policy=args.policy,
        overage_price_per_unit=price,
        currency=args.currency,
        monthly_spending_cap=cap,
        remove_spending_cap=args.no_spending_cap,
    )
    if not edit.is_empty() and not args.by:
        print("error (by): name who is changing the plan, e.g. --by alice@ops", file=sys.stderr)
        return 2

    def show_or_change(session: Any, context: Any, business: Any) -> str:
        now = context.clock.now()
        lead = ""
        if not edit.is_empty():
            by = ChangedBy(args.by, CHANGED_VIA_CLI, args.note)
            changed = change_plan(session, business, edit, by, now)
            lead = "Plan changed.\n" if changed else "The plan already had those terms.\n"
        return lead + _plan_text(session, business, now)

    return _with_business(settings, args.business, show_or_change)


def _plan_text(session: Any, business: Any, at: Any) -> str:
    """The plan, this period's usage and the newest changes, for an operator to read."""
    from messagecenter.businesses import money, plans, usage

    summary = usage.summarize(session, business, at)
    currency = f"{summary.currency} ({money.currency_name(summary.currency, business.country)})"
    if summary.overage_policy == "hard_stop":
        policy = "hard stop: sends are refused past the allowance"
    else:
        policy = f"allow overage at {summary.price_text} a unit"
    if summary.spending_cap_text is None:
        cap = "none"
    elif summary.overage_policy == "hard_stop":
        cap = f"{summary.spending_cap_text} a month (applies when overage is allowed)"
    else:
        cap = f"{summary.spending_cap_text} a month: sends stop at {summary.send_limit} units"
    lines = [
        f"Plan of {business.name} (business {business.id}):",
        f"  Allowance:     {summary.allowance} messages a month",
        f"  When used up:  {policy}",
        f"  Spending cap:  {cap}",
        f"  Currency:      {currency}",
        f"  This period:   {summary.used} units used since {summary.period_start.isoformat()}, "
        f"overage {summary.overage_cost_text}",
    ]
    history = plans.plan_history(session, business.id)
    lines.append("Changes, newest first:" if history else "No changes recorded.")
    for change in history:
        what = ", ".join(
            f"{name} {_term_text(name, change.before, business.country)} -> "
            f"{_term_text(name, change.after, business.country)}"
            for name in change.after
            if change.before.get(name) != change.after[name]
        )
        note = f"  ({change.note})" if change.note else ""
        lines.append(
            f"  {change.changed_at:%Y-%m-%d %H:%M} UTC  {change.changed_by} via "
            f"{change.changed_via}: {what}{note}"
        )
    return "\n".join(lines)


def _term_text(name: str, terms: dict[str, Any], country: str) -> str:
    """One recorded term as an operator reads it: amounts in the currency of their time."""
    from messagecenter.businesses import money

    value = terms.get(name)
    if value is None:
        return "none"
    if name in ("overage_price_per_unit", "monthly_spending_cap"):
        return money.format_money(Decimal(value), terms["currency"], country)
    return str(value)


def _with_business(settings: Settings, business_id: int, action: Callable[..., str]) -> int:
    """Run `action(session, context, business)` in one unit of work and print its result."""
    from messagecenter.context import build_context
    from messagecenter.db import session_scope
    from messagecenter.migrate import upgrade
    from messagecenter.models import Business

    upgrade(settings.database_url)
    context = build_context(settings)
    with session_scope(context.sessions) as session:
        business = session.get(Business, business_id)
        if business is None:
            print(f"error: there is no business {business_id}", file=sys.stderr)
            return 2
        print(action(session, context, business))
    return 0


def _staff_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    """The way back in for an owner who lost their password (the Staff page resets anyone
    else's): the operator runs it, on the server, and hands the password over."""
    from messagecenter.context import build_context
    from messagecenter.db import session_scope
    from messagecenter.migrate import upgrade
    from messagecenter.staff import service as staff

    upgrade(settings.database_url)
    context = build_context(settings)
    with session_scope(context.sessions) as session:
        if args.email is not None:
            member = staff.staff_by_email(session, args.email)
            if member is None:
                print(f"error: no login has the email {args.email}", file=sys.stderr)
                return 2
        else:
            found = staff.owners(session, args.business)
            if len(found) != 1:
                emails = ", ".join(m.email for m in found)
                problem = (
                    f"business {args.business} has no active owner"
                    if not found
                    else f"business {args.business} has {len(found)} owners ({emails}): "
                    "name one with --email"
                )
                print(f"error: {problem}", file=sys.stderr)
                return 2
            (member,) = found
        password = staff.reset_password(session, member)
        print(f"{member.email} can now sign in with the password {password}")
    return 0


def _number_suggest(settings: Settings, args: argparse.Namespace) -> int:
    from messagecenter.numbers.service import suggest_numbers

    return _with_business(
        settings,
        args.business,
        lambda session, context, business: (
            "\n".join(suggest_numbers(session, business, context.carrier))
            or "No numbers are available near the business phone just now."
        ),
    )


def _number_enable(settings: Settings, args: argparse.Namespace) -> int:
    from messagecenter.numbers.service import enable_messaging

    def enable(session: Any, context: Any, business: Any) -> str:
        number = enable_messaging(
            session,
            business,
            context.carrier,
            args.phone_number,
            settings.public_url,
            context.clock.now(),
        )
        return f"Message Center is on for {business.name}: SMS number {number.phone_number}"

    return _with_business(settings, args.business, enable)


def _number_change(settings: Settings, args: argparse.Namespace) -> int:
    from messagecenter.numbers.service import change_number

    def change(session: Any, context: Any, business: Any) -> str:
        number = change_number(
            session,
            business,
            context.carrier,
            args.phone_number,
            settings.public_url,
            context.clock.now(),
            confirmed=args.yes,
        )
        return f"{business.name} now texts from {number.phone_number}; the old number is released"

    return _with_business(settings, args.business, change)


def _twilio_check(settings: Settings, _args: argparse.Namespace) -> int:
    from messagecenter.carriers.base import CarrierError
    from messagecenter.carriers.twilio.carrier import TwilioCarrier

    try:
        name = TwilioCarrier(settings).check_credentials()
    except CarrierError as exc:
        print(f"Twilio check failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"Twilio credentials work (account: {name}, API: {settings.twilio_api_url}).")
    return 0


def _inbound_parked(settings: Settings, args: argparse.Namespace) -> int:
    """Parked texts, one line each (also logged as an ERROR when parked); with --retry they
    go back to the worker."""
    from messagecenter.db import make_engine, make_session_factory, session_scope
    from messagecenter.intake import service as intake

    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            items = intake.parked_texts(session)
            for item in items:
                print(
                    f"{item.id}\t{item.received_at.isoformat()}\t{item.carrier_sid}\t"
                    f"from {item.from_phone[:40]}\tto {item.to_phone[:40]}\t"
                    f"{item.attempts} attempts\t{(item.last_error or '')[:200]}"
                )
            retried = intake.retry_parked(session) if args.retry else 0
    finally:
        engine.dispose()
    if args.retry:
        print(f"{retried} parked text(s) put back for the worker.")
        return 0
    print(f"{len(items)} parked text(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
