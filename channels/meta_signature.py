"""Meta's webhook signature (WhatsApp Cloud API, Instagram, Messenger).

Every POST Meta sends carries ``X-Hub-Signature-256: sha256=<hex>``, the
HMAC-SHA256 of the raw body keyed with the app secret. It is checked on the
raw bytes, in constant time, before anything parses the body: a forged
message must never reach the JSON parser, let alone the pipeline.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body`` (tests, the bench)."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``app_secret``.

    A missing, malformed or wrong header is simply not valid; the comparison
    takes the same time wherever the first wrong character is.
    """
    if not header or not app_secret:
        return False
    given = header.strip()
    if not given.lower().startswith(_PREFIX):
        return False
    expected = sign(body, app_secret)
    # compare as bytes: compare_digest refuses non-ASCII str
    return hmac.compare_digest(
        expected.encode(), _PREFIX.encode() + given[len(_PREFIX) :].lower().encode()
    )
