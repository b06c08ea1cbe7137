"""Sign-in throttling, counted in the database so every process (`--workers`) shares it. The
client address it is keyed on is the edge's (http/client_address.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from messagecenter.clock import Clock
from messagecenter.models import SignInFailure
from messagecenter.signin import queries

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

    Many addresses guessing one account (a botnet) meet a third, account-wide delay, counted
    over every address: it too starts late and stays short (at most 30 s), so it slows the
    guessing to a couple a minute while the real user, from a browser never seen, waits a
    few seconds at worst, and from a known browser not at all (below).

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
        per_account_anywhere: Backoff = Backoff(20, timedelta(seconds=1), timedelta(seconds=30)),
        forget_after: timedelta = FORGET_AFTER,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.per_account_anywhere = per_account_anywhere
        self.forget_after = forget_after

    def attempt(
        self, session: Session, address: str, account: str, clock: Clock, device: str | None = None
    ) -> timedelta:
        """Count an attempt as failed and return 0; or, while a delay runs, count nothing and
        return how long is left. `device`: the id of a device cookie valid for `account`."""
        # Locked in `_keys`' order (the loops below need no order of their own).
        rows = queries.locked_failure_rows(session, _keys(address, account, device), clock.now())
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
            queries.clear_failures(session, device_key(device), account)
            return
        # The address's row first, then the key's, then the account's everywhere: the order
        # `attempt` locks them in. The wide ones are not cleared: one good password must
        # not wipe what others did from the address, or to the account from elsewhere.
        queries.take_one_off_address(session, address)
        queries.clear_failures(session, address, account)
        queries.take_one_off(session, ANYWHERE, account)

    def _backoff(self, row: SignInFailure) -> Backoff:
        if row.account == "":
            return self.per_address
        return self.per_account_anywhere if row.address == ANYWHERE else self.per_account


ANYWHERE = "anywhere"  # the `address` of an account's row over every address


def device_key(device: str) -> str:
    """The `address` column of a device's rows: a prefix no client address is written with
    (client_address gives IP addresses, networks, NON_IP or UNKNOWN; nor is it ANYWHERE)."""
    return f"device:{device}"


def _keys(address: str, account: str, device: str | None) -> list[tuple[str, str]]:
    """The (address, account) rows an attempt counts on, in the order they are locked: the
    device's one alone; or the address-wide row (""), the account's at the address, and the
    account's everywhere. Every attempt locks in this one order, so two never deadlock."""
    if device is not None:
        return [(device_key(device), account)]
    return [(address, ""), (address, account), (ANYWHERE, account)]
