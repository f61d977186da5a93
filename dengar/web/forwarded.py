"""The client's address behind reverse proxies.

Behind a TLS proxy every connection comes from the proxy, so the proxy
names the client in ``Forwarded`` (RFC 7239) or ``X-Forwarded-For``. Those
headers are anyone's to write: they are read only when the connection comes
from a configured trusted proxy, and then from the right, because each proxy
appends the address it saw. The first address from the right that is not a
trusted proxy is the client; whatever stands left of it was written by the
client and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.datastructures import Headers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# a header longer than this was not written by a proxy of ours
_MAX_HOPS = 64


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``web.trusted_proxies`` as networks (a single address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` nodes of a ``Forwarded`` header, left to right, without
    quotes, brackets or ports (an unknown or obfuscated node stays as text)."""
    nodes = []
    for element in value.split(","):
        for pair in element.split(";"):
            key, _, node = pair.strip().partition("=")
            if key.strip().lower() != "for":
                continue
            node = node.strip().strip('"')
            if node.startswith("["):  # [2001:db8::1]:4711
                node = node[1:].partition("]")[0]
            elif node.count(":") == 1:  # 192.0.2.1:8080
                node = node.partition(":")[0]
            nodes.append(node)
    return nodes


def _chain(headers: Headers) -> list[str]:
    forwarded = headers.getlist("forwarded")
    if forwarded:
        return [n for value in forwarded for n in _forwarded_for(value)]
    return [
        part.strip()
        for value in headers.getlist("x-forwarded-for")
        for part in value.split(",")
        if part.strip()
    ]


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def client_address(
    peer: str | None, headers: Headers, trusted: Sequence[Network]
) -> str:
    """The address of the client that sent a request arriving from ``peer``.

    Without trusted proxies, or from a peer that is not one, the peer itself:
    forwarded headers are then ignored. From a trusted proxy, the right-most
    forwarded address that is not a trusted proxy; if a hop cannot be read
    ("unknown", an obfuscated name), the proxy that reported it.
    """
    if not peer:
        return "-"
    current = _address(peer)
    if current is None or not trusted or not _trusted(current, trusted):
        return peer
    for hop in reversed(_chain(headers)[-_MAX_HOPS:]):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)
