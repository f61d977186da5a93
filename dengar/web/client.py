"""The address a request came from, for rate limits.

One function, so that the trusted-proxy handling (``X-Forwarded-For`` from a
configured reverse proxy only) replaces the peer address in one place.
"""

from __future__ import annotations

from fastapi import Request


def client_address(request: Request) -> str:
    """The client's address ("-" when the server does not know it)."""
    return request.client.host if request.client else "-"
