"""Sign-in throttling, counted in the database so every process (`--workers`) shares it, and
the client address it is keyed on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.requests import Request

from messagecenter.clock import Clock
from messagecenter.models import SignInFailure, WebSession

Network = IPv4Network | IPv6Network
NON_IP = "non-ip"  # one bucket for every peer that is not an IP address (a Unix socket...)
UNKNOWN = "unknown"  # one bucket for clients a trusted proxy says it does not know
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Backoff:
    """After `free` failures, each further one doubles the wait: `first`, 2x, 4x ... `cap`."""

    free: int
    first: timedelta
    cap: timedelta

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        doublings = failures - self.free
        return self.cap if doublings >= 32 else min(self.first * 2**doublings, self.cap)


class LoginThrottle:
    """Failed sign-ins, counted in the database so every process (`--workers`) shares them.

    No fixed lockout: a delay grows with the failures of a key and is forgotten a day after
    the last one. The delay is keyed on (account, address), because anything keyed on the
    account alone lets a stranger lock its owner out, and anything keyed on the address alone
    locks out everyone behind one NAT or proxy. So a stranger hammering an email only slows
    themself; the owner still signs in from their own address. Guessing one password from
    many addresses is bounded per address (and by argon2's cost); IPv6 counts per /64, the
    block one subscriber is given.

    One address spraying many accounts meets a second, address-wide delay. It starts later
    and stays short (at most 30 s), so a colleague at the same address who types the right
    password waits briefly at worst.

    Both could still be held by a stranger at the owner's address (a NAT, a shared office)
    sending one wrong attempt each time a delay ends. So a browser that has signed in to the
    account before (its device cookie, web/auth.py) is keyed on (account, device) instead, and
    skips the address-wide row: strangers' failures never reach it, and its own failures grow
    its own delay, so a stolen device cookie guesses no faster than anyone else.

    Each attempt is counted as a failure before its password is checked, in one short
    transaction holding the key's rows, so parallel requests cannot slip past a delay; a
    success then clears its (account, address) key and takes its count off the address.
    """

    def __init__(
        self,
        per_account: Backoff = Backoff(5, timedelta(seconds=15), timedelta(minutes=15)),
        per_address: Backoff = Backoff(20, timedelta(seconds=1), timedelta(seconds=30)),
        forget_after: timedelta = FORGET_AFTER,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.forget_after = forget_after

    def attempt(
        self, session: Session, address: str, account: str, clock: Clock, device: str | None = None
    ) -> timedelta:
        """Count an attempt as failed and return 0; or, while a delay runs, count nothing and
        return how long is left. `device`: the id of a device cookie valid for `account`."""
        rows = self._locked_rows(session, _keys(address, account, device), clock.now())
        # The clock is read once the rows are held: a request that read it earlier but got
        # the rows later would otherwise find the other's retry_at still in its future.
        now = clock.now()
        wait = timedelta(0)
        for row in rows:
            if row.last_failed_at <= now - self.forget_after:
                row.failures = 0  # forgotten, not yet cleared away (purge_sign_ins)
            if self._backoff(row).delay(row.failures) > timedelta(0):
                wait = max(wait, row.retry_at - now)
        if wait > timedelta(0):
            return wait
        for row in rows:
            row.failures += 1
            row.last_failed_at = now
            row.retry_at = now + self._backoff(row).delay(row.failures)
        return timedelta(0)

    def succeeded(
        self, session: Session, address: str, account: str, device: str | None = None
    ) -> None:
        if device is not None:
            # Only the device's own key: the address's rows were not counted, and what
            # others did from there stays theirs.
            session.execute(
                delete(SignInFailure).where(
                    SignInFailure.address == device_key(device), SignInFailure.account == account
                )
            )
            return
        # The address's row first, then the key's: the order `attempt` locks them in.
        # Not cleared: one good password must not wipe what others did from the address.
        session.execute(
            update(SignInFailure)
            .where(
                SignInFailure.address == address,
                SignInFailure.account == "",
                SignInFailure.failures > 0,
            )
            .values(failures=SignInFailure.failures - 1)
        )
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.address == address, SignInFailure.account == account
            )
        )

    def _backoff(self, row: SignInFailure) -> Backoff:
        return self.per_address if row.account == "" else self.per_account

    def _locked_rows(
        self, session: Session, keys: list[tuple[str, str]], now: datetime
    ) -> list[SignInFailure]:
        """The key's rows (`_keys`), created if new, locked until the transaction ends (rows on
        PostgreSQL, the database on SQLite: BEGIN IMMEDIATE), always in the same order.

        One statement both creates and locks: ON CONFLICT DO UPDATE locks a row that exists
        (DO NOTHING would not, and a purge could delete it before a later SELECT FOR UPDATE)."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(SignInFailure).values(
            [
                dict(address=address, account=key, failures=0, retry_at=now, last_failed_at=now)
                for address, key in keys  # in `_keys`'s order: the one every attempt locks in
            ]
        )
        locking = stmt.on_conflict_do_update(
            index_elements=["address", "account"],
            set_={"address": stmt.excluded.address},  # no change: only the lock is wanted
        ).returning(SignInFailure)
        rows = session.scalars(locking, execution_options={"populate_existing": True}).all()
        return sorted(rows, key=lambda row: row.account)


def device_key(device: str) -> str:
    """The `address` column of a device's rows: a prefix no client address is written with
    (client_address gives IP addresses, networks, NON_IP or UNKNOWN)."""
    return f"device:{device}"


def _keys(address: str, account: str, device: str | None) -> list[tuple[str, str]]:
    """The (address, account) rows an attempt counts on, in the order they are locked: the
    device's one alone, or the address-wide row ("") and then the account's at the address."""
    if device is not None:
        return [(device_key(device), account)]
    return [(address, ""), (address, account)]


def purge_sign_ins(session: Session, now: datetime, forget_after: timedelta = FORGET_AFTER) -> None:
    """Housekeeping (the background worker): failures forgotten and sessions expired. Apart
    from any sign-in's transaction, and on PostgreSQL skipping rows a sign-in holds, so it
    never waits for one nor deadlocks with one."""
    stale = select(SignInFailure.address, SignInFailure.account).where(
        SignInFailure.last_failed_at <= now - forget_after
    )
    if session.get_bind().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    session.execute(
        delete(SignInFailure).where(tuple_(SignInFailure.address, SignInFailure.account).in_(stale))
    )
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))


# ---------------------------------------------------------------------------- addresses


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """Where the request came from, as the throttle counts it. X-Forwarded-For is believed only
    when the connection comes from a trusted proxy, and read from the right: each trusted hop
    vouches for the one before it, and the first untrusted one is the client. A peer that is
    not an IP address counts as one fixed bucket: its text is never a key a client could vary."""
    address = _parse_address(request.client.host if request.client else "")
    if address is None:
        return NON_IP
    if any(address in network for network in trusted):
        hops = [
            hop.strip()
            for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")
        ]
        for hop in reversed(hops):
            if hop.lower() == UNKNOWN:  # the proxy did not know: not the proxy's own bucket
                return UNKNOWN
            forwarded = _parse_address(_without_port(hop))
            if forwarded is None:  # not written by a proxy: stop at the last one vouched for
                break
            address = forwarded
            if not any(forwarded in network for network in trusted):
                break
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::\d+)?$")  # [v6] or [v6]:port
_IPV4_PORT = re.compile(r"^(?P<host>[\d.]+):\d+$")  # 1.2.3.4:5678


def _without_port(hop: str) -> str:
    """The address of an X-Forwarded-For entry, which some proxies write with a port."""
    found = _BRACKETED.match(hop) or _IPV4_PORT.match(hop)
    return found["host"] if found else hop


def _parse_address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
