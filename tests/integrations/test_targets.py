"""Where webhooks may go: http(s) only, public addresses only unless allowed, every address a
name resolves to checked, and the delivery pinned to the checked one."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from messagecenter.integrations.targets import Address, TargetRefused, check_target, is_public


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[Address]:
        return [ip_address(a) for a in addresses]

    return resolve


def failing(host: str, port: int) -> Sequence[Address]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (CGNAT)
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::",
        "ff02::1",
        # IPv6 forms that carry a private IPv4 address a gateway would reach
        "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert not is_public(ip_address(address))
    with pytest.raises(TargetRefused, match="private, loopback or reserved"):
        check_target("https://hooks.example.com/in", allow_private=False, resolve=resolver(address))
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(TargetRefused):
        check_target(f"http://{literal}/in", allow_private=False, resolve=failing)


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(TargetRefused):
        check_target(
            "https://hooks.example.com/",
            allow_private=False,
            resolve=resolver("93.184.216.34", "127.0.0.1"),
        )


def test_public_addresses_pass_and_the_delivery_is_pinned_to_the_checked_one() -> None:
    target = check_target(
        "https://hooks.example.com:8443/in?x=1",
        allow_private=False,
        resolve=resolver("93.184.216.34"),
    )
    assert target.address == IPv4Address("93.184.216.34")
    assert target.pinned_url() == "https://93.184.216.34:8443/in?x=1"
    assert target.host_header() == "hooks.example.com:8443"
    six = check_target(
        "http://hooks.example.com/in", allow_private=False, resolve=resolver("2606:2800:220:1::1")
    )
    assert six.address == IPv6Address("2606:2800:220:1::1")
    assert six.pinned_url() == "http://[2606:2800:220:1::1]/in"
    assert six.host_header() == "hooks.example.com"


def test_the_setting_allows_private_addresses() -> None:
    target = check_target("http://127.0.0.1:9000/hooks", allow_private=True, resolve=failing)
    assert target.pinned_url() == "http://127.0.0.1:9000/hooks"
    assert target.host_header() == "127.0.0.1:9000"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://127.0.0.1:25/", "http:// or https://"),
        ("hooks.example.com/in", "http:// or https://"),
        ("https:///in", "no host"),
        ("https://user:pw@hooks.example.com/", "no user name or password"),
        ("https://hooks.example.com:99999/", "not a web address"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
    ],
)
def test_only_plain_http_and_https_urls(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=why):
        check_target(url, allow_private=True, resolve=resolver("93.184.216.34"))


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(TargetRefused, match="could not be found"):
        check_target("https://nowhere.invalid/", allow_private=False, resolve=failing)


def test_an_international_host_name_is_called_by_its_dns_name() -> None:
    seen = []

    def resolve(host: str, port: int) -> Sequence[Address]:
        seen.append(host)
        return [ip_address("93.184.216.34")]

    target = check_target("https://bücher.example/hooks", allow_private=False, resolve=resolve)
    assert seen == ["xn--bcher-kva.example"]
    assert target.host_header() == "xn--bcher-kva.example"
    with pytest.raises(TargetRefused, match="Port 0"):
        check_target("https://hooks.example.com:0/", allow_private=True, resolve=resolve)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:4700:4700::1111"])
def test_an_ipv6_address_carrying_a_public_ipv4_one_or_none_is_public(address: str) -> None:
    assert is_public(ip_address(address))
