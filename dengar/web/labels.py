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
    "in_flight": "sedang dikirim",
    "delivered": "terkirim",
    "dead": "gagal",
    "skipped": "tidak dikirim",
}

# what a chat service reported of a sent reply (WhatsApp statuses)
REMOTE_LABELS: dict[str, str] = {
    "sent": "belum sampai di ponsel pelapor",
    "delivered": "sampai di ponsel pelapor",
    "read": "sudah dibaca pelapor",
    "failed": "gagal sampai ke pelapor",
}

# the kinds of channel as staff know them (the configured name is the
# operator's own: "wa", "email-pengaduan")
CHANNEL_TYPE_LABELS: dict[str, str] = {
    "whatsapp": "WhatsApp",
    "meta": "Facebook/Instagram",
    "webform": "formulir web",
    "telegram": "Telegram",
    "imap": "email",
    "maildir": "email",
    "x": "X (Twitter)",
}


def delivery_state(status: str | None, remote: str | None) -> str:
    """One row's state as staff read it: the outbox's, with what the chat
    service reported after it took the message ("terkirim, sudah dibaca
    pelapor"); a failure it reported later is the state itself."""
    shown = OUTBOX_LABELS.get(status or "", status or "")
    if not remote:
        return shown
    if remote == "failed":
        return REMOTE_LABELS["failed"]
    return f"{shown}, {REMOTE_LABELS.get(remote, remote)}"


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

    types = {c.name: c.type for c in settings.channels}

    def channel(name: str | None) -> str:
        """A channel as staff know it ("wa" → "WhatsApp"); a channel no
        longer configured (imported items) keeps its name."""
        text = name or "-"
        return CHANNEL_TYPE_LABELS.get(types.get(text, ""), text)

    env.filters["local"] = local
    env.filters["channel"] = channel
    env.filters["channel_type"] = lambda t: CHANNEL_TYPE_LABELS.get(t, t)
    env.globals["delivery_state"] = delivery_state
    env.filters["label"] = label
    env.filters["long_date"] = long_date
    env.globals["STATUS_LABELS"] = STATUS_LABELS
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals["agency_names"] = {a.code: a.name for a in settings.agencies}
    env.globals["timezone"] = settings.timezone
