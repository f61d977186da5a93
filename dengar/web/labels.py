"""Indonesian labels and template filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2

from config.localtime import local_time, long_date
from config.settings import Settings
from dengar.web.auth import ROLE_LABELS
from dispatcher.wording import STATUS_LABELS

CONFIDENTIALITY_LABELS: dict[str, str] = {
    "biasa": "biasa",
    "anonim": "anonim",
    "rahasia": "rahasia",
}

OUTBOX_LABELS: dict[str, str] = {
    "pending": "menunggu",
    "in_flight": "dikirim",
    "delivered": "terkirim",
    "dead": "gagal",
    "skipped": "dilewati",
}

# what a chat service reported of a sent reply (WhatsApp statuses)
REMOTE_LABELS: dict[str, str] = {
    "sent": "dikirim ke WhatsApp",
    "delivered": "sampai di ponsel warga",
    "read": "dibaca warga",
    "failed": "gagal terkirim",
}


def install_filters(env: jinja2.Environment, settings: Settings) -> None:
    """Add the filters and globals the templates use."""

    def local(value: datetime | str | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        return local_time(value, settings.timezone, fmt)

    def label(value: Any, table: str = "status") -> str:
        tables = {
            "status": STATUS_LABELS,
            "confidentiality": CONFIDENTIALITY_LABELS,
            "outbox": OUTBOX_LABELS,
            "remote": REMOTE_LABELS,
        }
        text = "" if value is None else str(value)
        return tables[table].get(text, text)

    env.filters["local"] = local
    env.filters["label"] = label
    env.filters["long_date"] = long_date
    env.globals["STATUS_LABELS"] = STATUS_LABELS
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals["agency_names"] = {a.code: a.name for a in settings.agencies}
    env.globals["timezone"] = settings.timezone
