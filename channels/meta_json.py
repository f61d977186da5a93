"""Reading Meta's webhook JSON, the same for WhatsApp, Page and Instagram
events: the envelope check, epoch times, non-empty strings, and the chat
commands a citizen types or taps (``/status ADU-…``, ``anonim ADU-…``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

COMMANDS = frozenset({"start", "status", "baru", "biasa", "anonim", "rahasia"})
_CHOICES = frozenset({"biasa", "anonim", "rahasia"})


# what reading a body of an unexpected shape raises (a number where a list
# belongs, nesting too deep to copy): the part is quarantined, never the
# channel stopped
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, ValueError, RecursionError)


class MalformedPayload(ValueError):
    """The body is signed but not the JSON Meta documents."""


def load_envelope(body: bytes, objects: Collection[str]) -> Mapping[str, Any]:
    """The body as JSON, checked to be an event of one of ``objects``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload(f"not JSON: {exc}") from None
    except RecursionError:
        # a signed body nested deeper than the parser goes: kept, not a crash
        raise MalformedPayload("not JSON: nested too deeply") from None
    if not isinstance(data, Mapping):
        raise MalformedPayload("not a JSON object")
    if data.get("object") not in objects:
        raise MalformedPayload(f"object is {data.get('object')!r}")
    if not isinstance(data.get("entry"), list):
        raise MalformedPayload("no entry list")
    return data


def epoch_time(value: object, scale: float = 1.0) -> datetime:
    """Seconds (``scale`` 1000: milliseconds) since the epoch; now when the
    value is missing or unreadable."""
    try:
        return datetime.fromtimestamp(int(str(value)) / scale, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def iso_time(value: object) -> datetime | None:
    """A Graph API time (``2024-05-01T08:00:00+0000``) in UTC, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def listed(value: object) -> list[Any]:
    """A list field as a list; anything else (a number, a string, an object
    where Meta documents a list) as empty, so that no walker iterates it."""
    return value if isinstance(value, list) else []


def raw_json(value: object) -> bytes:
    """A part of a body as stored: its JSON with sorted keys (a replay
    rebuilds the same bytes). A lone surrogate (``"\\ud800"`` in the body,
    which no UTF-8 encoder takes) stays the escape it came as."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.encode("utf-8", "backslashreplace")


def text_of(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def read_command(text: str) -> tuple[str | None, str]:
    """``/status ADU-…`` or ``anonim ADU-…`` (a button's id) as a command and
    its arguments; ``(None, "")`` for a text that is no command."""
    word, _, args = text.strip().partition(" ")
    name = word.lstrip("/").lower()
    if name in COMMANDS and (word.startswith("/") or name in _CHOICES):
        return name, args.strip()
    return None, ""
