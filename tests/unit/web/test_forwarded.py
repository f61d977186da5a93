"""The client's address: forwarded headers only from trusted proxies, read
from the right."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from dengar.web.forwarded import client_address, networks

PROXY = networks(["10.0.0.5", "10.1.0.0/16", "::1"])


def addr(peer, trusted=PROXY, **headers):
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return client_address(peer, Headers(raw=raw), trusted)


def test_without_trusted_proxies_the_peer_is_the_client():
    # a header anyone can write never changes who is asking
    assert addr("203.0.113.7", (), x_forwarded_for="1.2.3.4") == "203.0.113.7"


def test_a_peer_that_is_not_a_proxy_cannot_name_another_client():
    assert addr("203.0.113.7", x_forwarded_for="10.0.0.9") == "203.0.113.7"
    assert addr("203.0.113.7", forwarded="for=1.2.3.4") == "203.0.113.7"


def test_from_the_proxy_the_right_most_untrusted_address_is_the_client():
    # the client wrote "6.6.6.6" itself; the proxy appended what it saw
    assert addr("10.0.0.5", x_forwarded_for="6.6.6.6, 198.51.100.20") == (
        "198.51.100.20"
    )
    # two proxies: the inner one is trusted too, so it is skipped
    assert (
        addr("10.0.0.5", x_forwarded_for="6.6.6.6, 198.51.100.20, 10.1.2.3")
        == "198.51.100.20"
    )


def test_several_header_lines_are_one_list():
    raw = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.21")]
    assert client_address("10.0.0.5", Headers(raw=raw), PROXY) == "198.51.100.21"


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("for=198.51.100.30", "198.51.100.30"),
        ('for="198.51.100.30:4711";proto=https', "198.51.100.30"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ("for=6.6.6.6, for=198.51.100.31;by=10.0.0.5", "198.51.100.31"),
        ("For=198.51.100.32", "198.51.100.32"),
    ],
)
def test_forwarded_header(header, client):
    assert addr("10.0.0.5", forwarded=header, x_forwarded_for="9.9.9.9") == client


def test_an_unreadable_hop_leaves_the_proxy_that_reported_it():
    assert addr("10.0.0.5", forwarded="for=unknown") == "10.0.0.5"
    assert addr("10.0.0.5", x_forwarded_for="1.2.3.4, _hidden") == "10.0.0.5"


def test_a_proxy_without_forwarded_header_is_itself_the_client():
    assert addr("10.0.0.5") == "10.0.0.5"
    assert addr("::1", x_forwarded_for="198.51.100.40") == "198.51.100.40"
    assert addr("::ffff:10.0.0.5", x_forwarded_for="198.51.100.41") == ("198.51.100.41")


def test_a_huge_header_is_read_in_linear_time():
    chain = ", ".join(["10.1.0.1"] * 200_000) + ", 198.51.100.50"
    assert addr("10.0.0.5", x_forwarded_for=chain) == "198.51.100.50"
