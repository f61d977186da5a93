"""Column types that behave the same on SQLite and PostgreSQL, and the range
of a row id on both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# the largest id a row can have on every backend (BIGINT, SQLite INTEGER):
# a larger number typed in a URL must be "not found", not an overflow
MAX_ROW_ID = 2**63 - 1


def row_id(text: str | int) -> int | None:
    """``text`` as a row id (ASCII digits, 1 to ``MAX_ROW_ID``); None when it
    cannot be one, so a lookup answers "not found" instead of failing."""
    if isinstance(text, int):
        return text if 1 <= text <= MAX_ROW_ID else None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite keeps no zone, so values come back naive there; this type stores
    UTC and hands back aware datetimes on every backend, and refuses naive ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"a timezone-aware datetime is required, got {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
