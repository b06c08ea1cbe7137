"""Where a webhook may go: an http(s) URL whose host resolves only to public addresses.

Loopback, private, link-local, shared (CGNAT), multicast and reserved addresses are refused
unless MESSAGECENTER_WEBHOOKS_ALLOW_PRIVATE is set. The check runs when an endpoint is
registered and again before every delivery (DNS can change); a delivery connects to the very
address it checked (the host name still in the Host header and TLS), so the name cannot be
re-pointed between the check and the connection."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import SplitResult, urlsplit

Address = IPv4Address | IPv6Address
# host, port -> the addresses it resolves to (socket.getaddrinfo by default; tests inject).
Resolver = Callable[[str, int], Sequence[Address]]
MAX_ADDRESSES = 4  # of a name's addresses, tried in turn when one refuses the connection


class TargetRefused(Exception):
    """The URL may not be called; the message says why in words for the business."""


@dataclass(frozen=True)
class Target:
    url: str  # as registered
    host: str  # the name (or literal address) in the URL
    port: int
    # The checked addresses a delivery connects to, in the resolver's order (a client tries
    # the next when one refuses the connection).
    addresses: tuple[Address, ...]

    @property
    def address(self) -> Address:
        return self.addresses[0]

    def pinned_url(self, address: Address | None = None) -> str:
        """The URL with its host replaced by a checked address (the first by default)."""
        address = address or self.address
        parts = urlsplit(self.url)
        shown = f"[{address}]" if address.version == 6 else str(address)
        netloc = f"{shown}:{parts.port}" if parts.port else shown
        return parts._replace(netloc=netloc).geturl()

    def host_header(self) -> str:
        port = urlsplit(self.url).port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port}" if port else host


def system_resolver(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for info in infos:
        address = ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def parse_url(url: str) -> SplitResult:
    """An absolute http(s) URL with a host and no credentials, or TargetRefused."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError as exc:
        raise TargetRefused(f"This is not a web address ({exc}).") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Give an http:// or https:// address.")
    if not parts.hostname:
        raise TargetRefused("The address has no host name.")
    if parts.port == 0:
        raise TargetRefused("Port 0 cannot be called.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Put no user name or password in the address; deliveries are signed.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url.strip()):
        raise TargetRefused("The address may not contain spaces or control characters.")
    return parts


# IPv6 ranges that carry an IPv4 address a gateway may forward to: NAT64 (RFC 6052, its
# well-known and local-use prefixes) and the deprecated IPv4-compatible form. The IPv4 address
# inside is what must be public.
_EMBEDDING_IPV4 = (
    IPv6Network("64:ff9b::/96"),
    IPv6Network("64:ff9b:1::/48"),
    IPv6Network("::/96"),
    IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
)


def is_public(address: Address) -> bool:
    """A global unicast address, also for the IPv4 address an IPv6 one carries (mapped,
    6to4, Teredo, NAT64 or IPv4-compatible): those reach the IPv4 address through a gateway."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]  # the client's address
        if embedded is None and any(address in net for net in _EMBEDDING_IPV4):
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def check_target(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> Target:
    """The address a delivery to `url` connects to, or TargetRefused: not http(s), a host
    that does not resolve, or one with any non-public address (unless private ones are
    allowed). Every address is checked: a client may connect to any of them."""
    parts = parse_url(url)
    assert parts.hostname is not None
    try:  # an international name as DNS, TLS and the Host header take it
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise TargetRefused(f"{parts.hostname!r} is not a valid host name.") from None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses: Sequence[Address] = [ip_address(host)]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"The host {host!r} could not be found ({exc}).") from None
    if not addresses:
        raise TargetRefused(f"The host {host!r} could not be found.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"The host {host!r} is at {address}, a private, loopback or reserved "
                    "address: webhooks go only to public addresses."
                )
    return Target(url.strip(), host, port, tuple(addresses[:MAX_ADDRESSES]))
