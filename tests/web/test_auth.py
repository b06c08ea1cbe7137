"""Sign-in throttling and server-side sessions (web/auth.py): growing delays counted in the
database and keyed so a stranger cannot lock the owner out, the same work for known and
unknown emails, X-Forwarded-For believed only from trusted proxies, and sessions that end on
the server when their staff member signs out or is deactivated."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_network
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock, SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.http.client_address import NON_IP, client_address
from messagecenter.models import SignInFailure, StaffMember, WebSession
from messagecenter.signin.service import purge_sign_ins
from messagecenter.staff import service as staff_service
from messagecenter.staff.service import create_staff_member, update_staff_member
from tests.factories import make_business
from tests.web.conftest import csrf_of, owner_email_of, sign_in

HTML = {"Accept": "text/html"}
WRONG = "not the password"


@dataclass
class Account:
    business_id: int
    email: str
    password: str


@pytest.fixture
def account(session: Session, context: AppContext, clock: FrozenClock) -> Account:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    return Account(
        setup.business.id, owner_email_of(session, setup.business.id), setup.owner_password
    )


def browser_at(context: AppContext, address: str) -> TestClient:
    """A browser of its own (cookies) connecting from `address`, over https like public_url."""
    app = create_app(context=context, run_dispatcher=False)
    return TestClient(app, base_url="https://testserver", client=(address, 50000))


def signs_in(client: TestClient, email: str, password: str) -> bool:
    answer = sign_in(client, email, password)
    if answer.status_code == 303:
        return True
    assert answer.status_code == 401, answer.text
    return False


def retry_after(client: TestClient, email: str, password: str) -> int:
    """Sign in while a delay runs: 429 with the wait in Retry-After, and in words on the page."""
    answer = sign_in(client, email, password)
    assert answer.status_code == 429, answer.text
    assert "Too many failed sign-ins. Try again in" in answer.text
    return int(answer.headers["Retry-After"])


def loads_inbox(client: TestClient) -> bool:
    page = client.get("/inbox", headers=HTML, follow_redirects=False)
    if page.status_code == 200:
        return True
    assert (page.status_code, page.headers["location"]) == (303, "/login")
    return False


# ---------------------------------------------------------------------------- delays


@pytest.fixture
def two_processes(
    committed_context: AppContext, engine: Engine
) -> Iterator[tuple[AppContext, AppContext]]:
    """Two app processes on one database (each its own context, sharing only the database
    and, for the test, the frozen clock)."""
    other = build_context(
        committed_context.settings,
        clock=committed_context.clock,
        engine=engine,
        rng=random.Random(8),
    )
    yield committed_context, other


def test_delays_grow_and_are_shared_by_two_app_instances(
    two_processes: tuple[AppContext, AppContext], clock: FrozenClock
) -> None:
    first, second = two_processes
    with session_scope(first.sessions) as session:
        setup = make_business(session, first.carrier, clock.now())
        email = owner_email_of(session, setup.business.id)
    one, two = browser_at(first, "192.0.2.10"), browser_at(second, "192.0.2.10")

    # Five free failures, taken in turns on the two processes: they count as one.
    for attempt in range(5):
        assert not signs_in((one, two)[attempt % 2], email, WRONG)
    assert retry_after(two, email, WRONG) == 15
    # Even the right password waits (else the delay would tell a guesser when they are right).
    assert retry_after(one, email, setup.owner_password) == 15
    clock.advance(timedelta(seconds=14))
    assert retry_after(one, email, WRONG) == 1

    waits: list[int] = []
    for _ in range(4):
        clock.advance(timedelta(seconds=waits[-1] if waits else 1))
        assert not signs_in(two, email, WRONG)
        waits.append(retry_after(one, email, WRONG))
    assert waits == [30, 60, 120, 240]

    # A success ends the delay's growth: its key starts afresh.
    clock.advance(timedelta(seconds=240))
    assert signs_in(one, email, setup.owner_password)
    for _ in range(4):
        assert not signs_in(two, email, WRONG)
    with session_scope(first.sessions) as session:
        counted = session.scalar(
            select(SignInFailure.failures).where(
                SignInFailure.address == "192.0.2.10", SignInFailure.account != ""
            )
        )
    assert counted == 4


def test_failures_are_forgotten_a_day_after_the_last(
    web: TestClient, account: Account, clock: FrozenClock, session: Session
) -> None:
    for _ in range(5):
        assert not signs_in(web, account.email, WRONG)
    assert retry_after(web, account.email, WRONG) == 15
    clock.advance(timedelta(hours=24))
    for _ in range(4):  # free again
        assert not signs_in(web, account.email, WRONG)
    assert signs_in(web, account.email, account.password)


def test_the_owner_signs_in_from_elsewhere_while_a_stranger_hammers_their_email(
    context: AppContext, account: Account
) -> None:
    stranger = browser_at(context, "203.0.113.9")
    for _ in range(5):
        assert not signs_in(stranger, account.email, WRONG)
    for _ in range(10):  # hammering on: refused without even a guess
        assert retry_after(stranger, account.email, WRONG) == 15

    owner = browser_at(context, "198.51.100.7")
    assert signs_in(owner, account.email, account.password)
    assert loads_inbox(owner)


def test_spraying_many_accounts_from_one_address_delays_a_colleague_there_only_briefly(
    context: AppContext, account: Account, clock: FrozenClock
) -> None:
    """The address-wide delay: a stranger behind the office's NAT tries 25 emails once each;
    the owner, behind the same NAT, waits at most 30 seconds for the right password."""
    nat = "192.0.2.77"
    stranger = browser_at(context, nat)
    for n in range(20):
        assert not signs_in(stranger, f"guess{n}@studio.example", WRONG)
    waits: list[int] = []
    for n in range(20, 30):
        waits.append(retry_after(stranger, f"guess{n}@studio.example", WRONG))
        clock.advance(timedelta(seconds=waits[-1]))
        assert not signs_in(stranger, f"guess{n}@studio.example", WRONG)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]

    owner = browser_at(context, nat)
    wait = retry_after(owner, account.email, account.password)
    assert wait <= 30
    clock.advance(timedelta(seconds=wait))
    assert signs_in(owner, account.email, account.password)


def test_many_addresses_guessing_one_account_meet_a_short_account_wide_delay(
    context: AppContext, account: Account, clock: FrozenClock
) -> None:
    """A botnet: each address tries the owner's email once. After 20 failures anywhere the
    account's own delay (1 s doubling, at most 30 s) holds every new address; the owner's
    known browser passes by it, and a browser never seen waits 30 s at worst."""
    known = browser_at(context, "198.51.100.7")
    assert signs_in(known, account.email, account.password)
    for n in range(20):
        assert not signs_in(browser_at(context, f"203.0.113.{n + 1}"), account.email, WRONG)
    waits: list[int] = []
    for n in range(20, 28):
        bot = browser_at(context, f"203.0.113.{n + 1}")
        waits.append(retry_after(bot, account.email, WRONG))  # a new address: held all the same
        clock.advance(timedelta(seconds=waits[-1]))
        assert not signs_in(bot, account.email, WRONG)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]

    assert signs_in(known, account.email, account.password)  # not delayed at all
    elsewhere = browser_at(context, "192.0.2.200")  # the owner on a new laptop
    wait = retry_after(elsewhere, account.email, account.password)
    assert wait <= 30
    clock.advance(timedelta(seconds=wait))
    assert signs_in(elsewhere, account.email, account.password)
    # Another account is not held by this one's delay.
    other = browser_at(context, "203.0.113.250")
    assert not signs_in(other, "someone.else@studio.example", WRONG)


def test_parallel_wrong_attempts_from_one_address_are_not_refused_under_the_free_limit(
    committed_context: AppContext,
) -> None:
    """Sixteen browsers behind one address try an email each at the same moment, on the real
    clock: all are counted and none is refused, as the address allows twenty free failures.
    (A request that read the clock before another but took the rows after it used to find
    that one's retry_at in its future, and got a 429.)"""
    committed_context.clock = SystemClock()
    app = create_app(context=committed_context, run_dispatcher=False)
    browsers = [
        TestClient(app, base_url="https://testserver", client=("192.0.2.200", 50000 + n))
        for n in range(16)
    ]
    forms = [csrf_of(browser.get("/login").text) for browser in browsers]
    start = threading.Barrier(len(browsers))

    def attempt(n: int) -> int:
        start.wait()
        answer = browsers[n].post(
            "/login",
            data={"email": f"guess{n}@studio.example", "password": WRONG, "csrf": forms[n]},
            follow_redirects=False,
        )
        return answer.status_code

    with ThreadPoolExecutor(len(browsers)) as pool:
        answers = list(pool.map(attempt, range(len(browsers))))
    assert answers == [401] * len(browsers)
    with session_scope(committed_context.sessions) as session:
        counted = session.scalar(select(SignInFailure.failures).where(SignInFailure.account == ""))
    assert counted == len(browsers)


def test_housekeeping_clears_forgotten_failures_and_expired_sessions(
    web: TestClient, account: Account, session: Session, clock: FrozenClock
) -> None:
    assert signs_in(web, account.email, account.password)
    assert not signs_in(web, "nobody@studio.example", WRONG)
    clock.advance(timedelta(hours=23))
    assert not signs_in(web, "other@studio.example", WRONG)  # the address's row is fresh again
    clock.advance(timedelta(hours=1))
    purge_sign_ins(session, clock.now())
    keys = session.execute(select(SignInFailure.account, SignInFailure.failures)).all()
    # nobody@ forgotten; other@ kept at the address and everywhere, the address's row too.
    assert len(keys) == 3 and sorted(k.failures for k in keys) == [1, 1, 2]
    clock.advance(timedelta(hours=12))
    purge_sign_ins(session, clock.now())
    assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_the_throttle_key_is_keyed_with_the_secret_not_a_bare_hash_of_the_email(
    web: TestClient, session: Session
) -> None:
    assert not signs_in(web, "nobody@studio.example", WRONG)
    keys = set(session.scalars(select(SignInFailure.account)))
    assert hashlib.sha256(b"nobody@studio.example").hexdigest() not in keys
    assert len(keys - {""}) == 1


def test_a_one_second_wait_is_said_in_the_singular(
    web: TestClient, account: Account, clock: FrozenClock
) -> None:
    for _ in range(5):
        assert not signs_in(web, account.email, WRONG)
    clock.advance(timedelta(seconds=14))
    answer = sign_in(web, account.email, WRONG)
    assert "Try again in 1 second." in answer.text


# ---------------------------------------------------------------------------- the hasher


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0
        self.hashed = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


def test_known_unknown_and_inactive_emails_all_run_the_hasher_once(
    web: TestClient,
    account: Account,
    session: Session,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher = CountingHasher()
    monkeypatch.setattr(staff_service, "_hasher", hasher)
    # Made with the counting hasher's cost, like the stand-in hash it compares against.
    gone = create_staff_member(
        session, business_id=account.business_id, email="gone@studio.example", name="Gone",
        role="staff", can_send_sms=False, password="right password", at=clock.now(),
    )  # fmt: skip
    gone.active = False
    session.commit()

    attempts = [
        (account.email, WRONG, False),  # a known email, the wrong password
        ("nobody@studio.example", WRONG, False),  # no such login
        ("gone@studio.example", "right password", False),  # an inactive login
        (account.email, account.password, True),
    ]
    for email, password, succeeds in attempts:
        hasher.verified = 0
        assert signs_in(web, email, password) is succeeds
        assert hasher.verified == 1, email


def test_the_first_unknown_email_costs_no_more_than_any_other(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stand-in hash is made when the app starts, not by the first unknown email (whose
    extra hash would tell it apart by its time)."""
    hasher = CountingHasher()
    monkeypatch.setattr(staff_service, "_hasher", hasher)
    web = TestClient(
        create_app(context=context, run_dispatcher=False), base_url="https://testserver"
    )
    made_at_start = hasher.hashed
    assert not signs_in(web, "nobody@studio.example", WRONG)
    assert (made_at_start, hasher.hashed, hasher.verified) == (1, 1, 1)


# ---------------------------------------------------------------------------- proxies


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8:1::7"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "counted_as"),
    [
        ("203.0.113.9", None, (), "203.0.113.9"),
        # No proxy is trusted (the default): the header is anyone's to write.
        ("10.0.0.2", "198.51.100.7", (), "10.0.0.2"),
        # Not from a trusted proxy: ignored.
        ("203.0.113.9", "198.51.100.7", PROXIES, "203.0.113.9"),
        # From a trusted proxy: the address it saw.
        ("10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        # A client's own X-Forwarded-For is kept by the proxy but only its own entry counts.
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", PROXIES, "198.51.100.7"),
        # Through two trusted proxies, read from the right.
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", PROXIES, "198.51.100.7"),
        # An entry no proxy wrote: the last one vouched for.
        ("10.0.0.2", "not an address", PROXIES, "10.0.0.2"),
        ("2001:db8:1::7", "2001:db8:5:6:7::1", PROXIES, "2001:db8:5:6::/64"),
        ("::ffff:10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        # Entries some proxies write with a port, or "unknown" (not the proxy's own bucket).
        ("10.0.0.2", "198.51.100.7:5678", PROXIES, "198.51.100.7"),
        ("10.0.0.2", "[2001:db8:5:6:7::1]:443", PROXIES, "2001:db8:5:6::/64"),
        ("10.0.0.2", "[2001:db8:5:6:7::1]", PROXIES, "2001:db8:5:6::/64"),
        ("10.0.0.2", "198.51.100.7:5678, 10.0.0.3:80", PROXIES, "198.51.100.7"),
        ("10.0.0.2", "unknown", PROXIES, "unknown"),
        ("10.0.0.2", "unknown, 198.51.100.7", PROXIES, "198.51.100.7"),
        # A peer that is not an IP address: one fixed bucket, never its text nor a header's.
        ("testclient", "198.51.100.7", PROXIES, NON_IP),
        ("testclient", None, PROXIES, NON_IP),
        ("a-name-chosen-per-request", "198.51.100.7", (), NON_IP),
        ("", "198.51.100.7", PROXIES, NON_IP),
    ],
)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, forwarded: str | None, trusted: Any, counted_as: str
) -> None:
    assert client_address(request_from(peer, forwarded), trusted) == counted_as


def test_trusted_proxies_are_read_from_the_setting() -> None:
    settings = Settings(trusted_proxies="10.0.0.2, 192.168.0.0/16 ,2001:db8::/32")
    assert [str(n) for n in settings.trusted_proxies] == [
        "10.0.0.2/32",
        "192.168.0.0/16",
        "2001:db8::/32",
    ]
    assert Settings().trusted_proxies == ()
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.300")


def test_behind_a_trusted_proxy_each_client_has_its_own_delay(
    context: AppContext, account: Account
) -> None:
    context.settings = context.settings.model_copy(update={"trusted_proxies": PROXIES})
    proxy = browser_at(context, "10.0.0.2")
    proxy.headers["X-Forwarded-For"] = "203.0.113.9"
    for _ in range(5):
        assert not signs_in(proxy, account.email, WRONG)
    assert retry_after(proxy, account.email, account.password) == 15

    proxy.headers["X-Forwarded-For"] = "198.51.100.7"  # the owner, through the same proxy
    assert signs_in(proxy, account.email, account.password)


def test_an_untrusted_client_cannot_dodge_its_delay_with_x_forwarded_for(
    context: AppContext, account: Account
) -> None:
    stranger = browser_at(context, "10.0.0.2")  # would be a proxy, but none is trusted
    for n in range(5):
        stranger.headers["X-Forwarded-For"] = f"198.51.100.{n}"
        assert not signs_in(stranger, account.email, WRONG)
    stranger.headers["X-Forwarded-For"] = "198.51.100.99"
    assert retry_after(stranger, account.email, account.password) == 15


# ---------------------------------------------------------------------------- sessions


def test_signing_out_makes_a_copy_of_the_cookie_useless(
    context: AppContext, account: Account, session: Session
) -> None:
    browser = browser_at(context, "198.51.100.7")
    assert signs_in(browser, account.email, account.password)
    captured = browser_at(context, "203.0.113.9")  # someone who copied the cookie
    captured.cookies.set("mc_session", browser.cookies["mc_session"])
    assert loads_inbox(captured)

    csrf = csrf_of(browser.get("/inbox").text)
    out = browser.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert not loads_inbox(browser)
    assert not loads_inbox(captured)
    assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_signing_in_again_ends_the_browsers_previous_session(
    context: AppContext, account: Account, session: Session
) -> None:
    browser = browser_at(context, "198.51.100.7")
    assert signs_in(browser, account.email, account.password)
    captured = browser_at(context, "203.0.113.9")  # a copy of the first cookie
    captured.cookies.set("mc_session", browser.cookies["mc_session"])
    assert signs_in(browser, account.email, account.password)
    assert loads_inbox(browser)
    assert not loads_inbox(captured)
    assert session.scalar(select(func.count()).select_from(WebSession)) == 1


def test_a_session_ends_twelve_hours_after_sign_in(
    web: TestClient, account: Account, clock: FrozenClock
) -> None:
    assert signs_in(web, account.email, account.password)
    clock.advance(timedelta(hours=12) - timedelta(seconds=1))
    assert loads_inbox(web)
    clock.advance(timedelta(seconds=1))
    assert not loads_inbox(web)


def test_deactivating_a_staff_member_ends_their_sessions_for_good(
    context: AppContext, account: Account, session: Session, clock: FrozenClock
) -> None:
    ada = create_staff_member(
        session, business_id=account.business_id, email="ada@studio.example", name="Ada",
        role="staff", can_send_sms=True, password="ada's password", at=clock.now(),
    )  # fmt: skip
    session.commit()
    phone, laptop = browser_at(context, "198.51.100.7"), browser_at(context, "198.51.100.8")
    assert signs_in(phone, "ada@studio.example", "ada's password")
    assert signs_in(laptop, "ada@studio.example", "ada's password")
    owner = session.scalar(select(StaffMember).where(StaffMember.email == account.email.lower()))
    assert owner is not None

    update_staff_member(session, account.business_id, ada.id, acting=owner, active=False)
    session.commit()
    assert not loads_inbox(phone)
    # Made active again, the old sessions stay ended: a copy of the cookie is no use.
    update_staff_member(session, account.business_id, ada.id, acting=owner, active=True)
    session.commit()
    assert not loads_inbox(laptop)
    assert signs_in(laptop, "ada@studio.example", "ada's password")
    assert loads_inbox(laptop)


# ---------------------------------------------------------------------------- device cookies


NAT = "192.0.2.77"  # the owner's office: strangers share its address


def hammer(stranger: TestClient, email: str, others: int = 0) -> None:
    """A stranger's failures on `email` until its delay runs (five), and one on each of
    `others` other emails (all count on the address-wide row)."""
    for _ in range(5):
        assert not signs_in(stranger, email, WRONG)
    for n in range(others):
        assert not signs_in(stranger, f"guess{n}@studio.example", WRONG)
    assert retry_after(stranger, email, WRONG) > 0


def device_cookie_of(browser: TestClient) -> str:
    value = browser.cookies.get("mc_device")
    assert value is not None
    return value


def test_a_stranger_at_the_owners_address_does_not_delay_the_owners_known_browser(
    context: AppContext, account: Account, clock: FrozenClock
) -> None:
    """Both of a stranger's holds on the office's address (the owner's email there, and the
    address itself: 20 failures) pass by a browser that has signed in to the account."""
    owner = browser_at(context, NAT)
    assert signs_in(owner, account.email, account.password)
    stranger = browser_at(context, NAT)
    hammer(stranger, account.email, others=15)
    assert retry_after(stranger, "guess99@studio.example", WRONG) == 1  # the address's delay

    for _ in range(3):  # however often, and without waiting
        assert signs_in(owner, account.email, account.password)
        assert loads_inbox(owner)
        assert retry_after(stranger, account.email, WRONG) > 0  # the stranger still waits

    owner.cookies.delete("mc_device")  # the same browser, never seen: the address's delay
    assert retry_after(owner, account.email, account.password) == 15


def test_failures_with_a_device_cookie_grow_that_devices_own_delay(
    context: AppContext, account: Account, clock: FrozenClock, session: Session
) -> None:
    known = browser_at(context, NAT)
    assert signs_in(known, account.email, account.password)
    for _ in range(5):
        assert not signs_in(known, account.email, WRONG)
    assert retry_after(known, account.email, account.password) == 15
    clock.advance(timedelta(seconds=15))
    assert not signs_in(known, account.email, WRONG)
    assert retry_after(known, account.email, WRONG) == 30

    # Copied elsewhere (stolen), the cookie guesses no faster: the delay is the device's.
    thief = browser_at(context, "203.0.113.9")
    thief.cookies.set("mc_device", device_cookie_of(known))
    assert retry_after(thief, account.email, WRONG) == 30
    # And the device's failures are not the address's: another browser there is not delayed.
    assert signs_in(browser_at(context, NAT), account.email, account.password)
    keys = session.execute(select(SignInFailure.address, SignInFailure.failures)).all()
    assert [k.failures for k in keys if k.address.startswith("device:")] == [6]
    assert all(k.failures == 0 for k in keys if k.address == NAT)


def test_a_forged_expired_or_other_accounts_device_cookie_is_ignored(
    context: AppContext, account: Account, session: Session, clock: FrozenClock
) -> None:
    owner_home = browser_at(context, "198.51.100.7")
    assert signs_in(owner_home, account.email, account.password)
    genuine = device_cookie_of(owner_home)
    other = make_business(session, context.carrier, clock.now())
    session.commit()
    someone = browser_at(context, "198.51.100.8")
    assert signs_in(someone, owner_email_of(session, other.business.id), other.owner_password)

    secret = someone.app.state.secret_key  # type: ignore[attr-defined]
    account_key = hmac.new(secret.encode(), account.email.lower().encode(), "sha256").hexdigest()
    payload = URLSafeSerializer(secret, salt="mc-device").loads(genuine)
    assert payload["account"] == account_key
    until = payload["until"]
    signature = genuine.rsplit(".", 1)[1]
    altered = URLSafeSerializer("", salt="").dump_payload({**payload, "device": "mine"})
    cookies = {
        "another account's": device_cookie_of(someone),
        "signed with another key": URLSafeSerializer("guess", salt="mc-device").dumps(payload),
        "altered": f"{altered.decode()}.{signature}",
        "a session cookie": someone.cookies["mc_session"],
        "not a cookie we made": "hello",
    }
    stranger = browser_at(context, NAT)
    hammer(stranger, account.email)
    for what, cookie in cookies.items():
        browser = browser_at(context, NAT)
        browser.cookies.set("mc_device", cookie)
        assert retry_after(browser, account.email, account.password) == 15, what
    # The genuine one, from the same address, passes (so it is the cookie that was refused).
    browser = browser_at(context, NAT)
    browser.cookies.set("mc_device", genuine)
    assert signs_in(browser, account.email, account.password)

    # A year on, the genuine cookie has expired (by the app's clock).
    clock.advance(timedelta(seconds=until - int(clock.now().timestamp())))
    hammer(stranger, account.email)
    expired = browser_at(context, NAT)
    expired.cookies.set("mc_device", genuine)
    assert retry_after(expired, account.email, account.password) == 15


@pytest.mark.parametrize("public_url", ["https://mc.example.test", "http://127.0.0.1:8000"])
def test_the_device_cookie_is_long_lived_http_only_and_names_no_email(
    context: AppContext, account: Account, public_url: str
) -> None:
    context.settings = context.settings.model_copy(update={"public_url": public_url})
    browser = browser_at(context, "198.51.100.7")
    answer = sign_in(browser, account.email, account.password)
    assert answer.status_code == 303
    [device] = [c for c in answer.headers.get_list("set-cookie") if c.startswith("mc_device=")]
    attributes = {part.strip().split("=")[0].lower() for part in device.split(";")[1:]}
    assert attributes == {"max-age", "path", "httponly", "samesite"} | (
        {"secure"} if public_url.startswith("https://") else set()
    )
    assert "; Max-Age=31536000;" in device and "; Path=/login;" in device
    assert "samesite=lax" in device.lower()
    value = device_cookie_of(browser)
    secret = browser.app.state.secret_key  # type: ignore[attr-defined]
    payload = URLSafeSerializer(secret, salt="mc-device").loads(value)
    assert payload.keys() == {"account", "device", "until"}
    assert account.email.lower() not in repr(payload)  # the keyed digest, not the email

    # Signing out ends the session, not the device: the cookie stays.
    csrf = csrf_of(browser.get("/inbox").text)
    assert browser.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert device_cookie_of(browser) == value
