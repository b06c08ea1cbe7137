"""The client address a request came from, as sign-in throttling counts it (signin/)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.requests import Request

Network = IPv4Network | IPv6Network
NON_IP = "non-ip"  # one bucket for every peer that is not an IP address (a Unix socket...)
UNKNOWN = "unknown"  # one bucket for clients a trusted proxy says it does not know


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
