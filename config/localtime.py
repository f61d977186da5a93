"""Times as a person reads them: in the configured ``timezone``, with its zone.

Every time is stored in UTC; whatever a staff member, an agency or a citizen
reads (dashboard, CLI, messages) goes through :func:`local_time`, so a case
received at 15:21 UTC reads "23:21 WITA" in Kotabaru and never as bare UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Indonesia's three official zones go by their Indonesian names; the tz
# database only knows them as "+07"/"+08"/"+09".
ZONE_ABBREVIATIONS: dict[str, str] = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}

DEFAULT_FORMAT = "%d-%m-%Y %H:%M"
# the CLI's tables: sorts as text, as operators are used to in a terminal
CLI_FORMAT = "%Y-%m-%d %H:%M"


@lru_cache(maxsize=16)
def zone(name: str) -> tzinfo:
    """The zone called ``name``; UTC when the name is unknown (config checks it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_abbreviation(name: str, when: datetime | None = None) -> str:
    """WIB/WITA/WIT for Indonesia's zones, the tz database's name otherwise."""
    if name in ZONE_ABBREVIATIONS:
        return ZONE_ABBREVIATIONS[name]
    moment = (when or datetime.now(UTC)).astimezone(zone(name))
    return moment.tzname() or name


def local_time(
    value: datetime | str | None,
    zone_name: str,
    fmt: str = DEFAULT_FORMAT,
    *,
    with_zone: bool = True,
    empty: str = "-",
) -> str:
    """``value`` (UTC, aware or naive, or an ISO string) in ``zone_name``,
    formatted with ``fmt`` and followed by the zone ("07-12-2026 23:21 WITA")."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)  # not a time: shown as it is
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(zone(zone_name)).strftime(fmt)
    if with_zone:
        text += " " + zone_abbreviation(zone_name, value)
    return text


MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
    "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


def long_date(value: date | str | None, empty: str = "-") -> str:
    """A calendar date as Indonesians write it: "7 Desember 2026" (an ISO
    string is read first; one that is no date is shown as it is)."""
    if value is None or value == "":
        return empty
    day = value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    assert isinstance(day, date)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
