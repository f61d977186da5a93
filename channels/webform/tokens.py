"""The form token: one per rendered form, so a double submit makes one case.

A token is ``<id>.<issued>.<signature>``: a random id, when the form was
rendered, and an HMAC of both under the web app's secret. The id becomes the
submission's ``external_id`` and, through another HMAC, its tracking number:
the same form sent twice carries the same id, is stored once under
``(channel, external_id)`` and shows the same number both times.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from contracts.tracking import ALPHABET

_ID_BYTES = 16


class BadToken(ValueError):
    """A token that was not made by us, or is too old."""


@dataclass(frozen=True, slots=True)
class FormToken:
    """A checked token."""

    id: str
    issued: int  # seconds since the epoch


def _sign(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:32]


def new_token(key: bytes, now: float | None = None) -> str:
    """A fresh token for a form about to be rendered."""
    token_id = secrets.token_hex(_ID_BYTES)
    issued = int(now if now is not None else time.time())
    body = f"{token_id}.{issued}"
    return f"{body}.{_sign(key, body)}"


def check_token(
    key: bytes, token: str, max_age: float, now: float | None = None
) -> FormToken:
    """The token's id and time; ``BadToken`` if forged, malformed or older
    than ``max_age`` seconds."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise BadToken("malformed form token")
    token_id, issued, signature = parts
    if len(token_id) != 2 * _ID_BYTES or not _is_hex(token_id):
        raise BadToken("malformed form token")
    if not hmac.compare_digest(signature, _sign(key, f"{token_id}.{issued}")):
        raise BadToken("form token not signed by this installation")
    age = (now if now is not None else time.time()) - int(issued)
    if age > max_age or age < -300:
        raise BadToken("form token expired")
    return FormToken(token_id, int(issued))


def tracking_no_for(key: bytes, token_id: str, prefix: str) -> str:
    """The tracking number of the submission of form ``token_id``: not
    guessable from the id without the key, the same every time."""
    digest = hmac.new(key, f"tracking:{token_id}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:5], "big")
    code = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(8)))
    return f"{prefix}-{code[:4]}-{code[4:]}"


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
