"""Answers to the chat commands a citizen types to the bot.

The pipeline stores a command as an ignored record and calls
``handle_command`` inside the same transaction; the text it returns goes to
the citizen through the outbox. Every text is Indonesian and can be replaced
per channel under ``messages:`` in ``dengar.yaml`` (same keys as
``MESSAGES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from config.settings import Settings
from dengar.confidentiality import LoweringRefused, change_confidentiality
from dispatcher.notify import STATUS_LABELS
from normalizer.records import Confidentiality, InboundMessage, RecordKind
from normalizer.tracking import canonical
from storage.tables import ComplaintRow

# statuses after which a case no longer takes /anonim or /rahasia
FINAL_STATUSES = frozenset({"resolved", "closed", "rejected", "dismissed"})
STATUS_LIST_LIMIT = 10

MESSAGES: dict[str, str] = {
    "start": (
        "Selamat datang di layanan pengaduan {bot_label}.\n\n"
        "Cara melapor:\n"
        "1. Tulis keluhan Anda: apa masalahnya, di mana, sejak kapan.\n"
        "2. Lampirkan foto bila ada (boleh beberapa sekaligus).\n"
        "3. Bagikan lokasi lewat \U0001f4ce \u2192 Lokasi.\n\n"
        "Anda akan menerima nomor pelacakan ({prefix}-XXXX-XXXX). Pesan yang "
        "Anda kirim dalam {session_minutes} menit berikutnya ditambahkan ke "
        "pengaduan yang sama.\n\n"
        "Perintah:\n"
        "/status \u2013 daftar pengaduan Anda\n"
        "/status {prefix}-XXXX-XXXX \u2013 status satu pengaduan\n"
        "/baru \u2013 mulai pengaduan baru\n"
        "/anonim \u2013 identitas Anda tidak diteruskan ke instansi\n"
        "/rahasia \u2013 pengaduan tidak ditampilkan kepada publik"
    ),
    "status_none": (
        "Belum ada pengaduan dari akun ini. Kirim pesan berisi keluhan Anda "
        "untuk membuat pengaduan."
    ),
    "status_list_header": "Pengaduan Anda:",
    "status_list_line": "\u2022 {tracking_no} ({date}): {status_label}",
    "status_one": (
        "Pengaduan {tracking_no} ({date})\nStatus: {status_label}\n"
        "\u201c{excerpt}\u201d"
    ),
    "status_not_found": (
        "Pengaduan {tracking_no} tidak ditemukan di antara pengaduan Anda. "
        "Periksa kembali nomornya, atau ketik /status untuk melihat daftarnya."
    ),
    "status_bad_number": (
        "\u201c{text}\u201d bukan nomor pelacakan yang valid. Contoh: "
        "/status {prefix}-7K3M-9Q2D"
    ),
    "baru": (
        "Baik. Pesan Anda berikutnya akan dicatat sebagai pengaduan baru dengan "
        "nomor pelacakan sendiri."
    ),
    "anonim": (
        "Pengaduan {tracking_no} kini bersifat anonim: identitas Anda tidak "
        "akan diteruskan ke instansi maupun ditampilkan kepada publik."
    ),
    "rahasia": (
        "Pengaduan {tracking_no} kini bersifat rahasia: isinya tidak akan "
        "ditampilkan kepada publik dan identitas Anda dilindungi."
    ),
    "already_rahasia": (
        "Pengaduan {tracking_no} sudah bersifat rahasia, yang juga melindungi "
        "identitas Anda."
    ),
    "no_open_case": (
        "Belum ada pengaduan aktif dari akun ini. Kirim dulu pengaduan Anda, "
        "lalu ketik /{command} untuk melindunginya."
    ),
    "unknown_command": (
        "Perintah tidak dikenal. Ketik /start untuk melihat cara melapor dan "
        "daftar perintah."
    ),
}


def message(name: str, overrides: Mapping[str, str] | None, **values: Any) -> str:
    """The text ``name`` (the channel's override first) filled with ``values``."""
    template = (overrides or {}).get(name) or MESSAGES[name]
    return template.format(**values)


def handle_command(
    session: Session, item: InboundMessage, settings: Settings
) -> str | None:
    """The reply to the command in ``item.metadata["command"]``, or None.

    Changes (``/anonim``, ``/rahasia``) are made in ``session``; the caller
    commits them with the command's own record.
    """
    command = str(item.metadata.get("command") or "")
    args = str(item.metadata.get("command_args") or "").strip()
    chat_id = item.reporter.chat_id
    overrides = _overrides(settings, item.channel)
    prefix = settings.tracking_prefix
    if command == "start":
        return message(
            "start",
            overrides,
            # "layanan pengaduan {bot_label}": the label names whose service
            bot_label=overrides.get("bot_label", "masyarakat"),
            prefix=prefix,
            session_minutes=_session_minutes(settings, item.channel),
        )
    if chat_id is None:
        return None
    if command == "status":
        tz = _zone(settings.timezone)
        return _status(session, item.channel, chat_id, args, prefix, overrides, tz)
    if command == "baru":
        return message("baru", overrides)
    if command in ("anonim", "rahasia"):
        return _protect(session, item.channel, chat_id, command, overrides)
    return message("unknown_command", overrides)


def _status(
    session: Session,
    channel: str,
    chat_id: str,
    args: str,
    prefix: str,
    overrides: Mapping[str, str],
    tz: tzinfo,
) -> str:
    if args:
        number = canonical(args.split()[0], prefix)
        if number is None:
            return message("status_bad_number", overrides, text=args, prefix=prefix)
        case = session.exec(
            select(ComplaintRow).where(
                ComplaintRow.tracking_no == number,
                ComplaintRow.kind == RecordKind.CASE.value,
                ComplaintRow.channel == channel,
                ComplaintRow.reporter_chat_id == chat_id,
            )
        ).first()
        if case is None:
            # the same answer whether the number exists for someone else or
            # not at all: a chat must not learn about other people's cases
            return message("status_not_found", overrides, tracking_no=number)
        return message(
            "status_one",
            overrides,
            tracking_no=case.tracking_no,
            date=_date(case, tz),
            status_label=_label(case.status),
            excerpt=_excerpt(case.clean_text or case.original_text),
        )
    cases = _cases(session, channel, chat_id, STATUS_LIST_LIMIT)
    if not cases:
        return message("status_none", overrides)
    lines = [message("status_list_header", overrides)]
    for case in cases:
        lines.append(
            message(
                "status_list_line",
                overrides,
                tracking_no=case.tracking_no,
                date=_date(case, tz),
                status_label=_label(case.status),
            )
        )
    return "\n".join(lines)


def _protect(
    session: Session,
    channel: str,
    chat_id: str,
    command: str,
    overrides: Mapping[str, str],
) -> str:
    current = next(
        (
            c
            for c in _cases(session, channel, chat_id, 20)
            if c.status not in FINAL_STATUSES
        ),
        None,
    )
    if current is None:
        return message("no_open_case", overrides, command=command)
    try:
        change_confidentiality(
            session,
            current,
            Confidentiality(command).value,
            actor=f"reporter:{channel}:{chat_id}",
            via=f"/{command}",
        )
    except LoweringRefused:
        # rahasia already covers anonim; never lowered from the chat
        return message("already_rahasia", overrides, tracking_no=current.tracking_no)
    return message(command, overrides, tracking_no=current.tracking_no)


def _cases(
    session: Session, channel: str, chat_id: str, limit: int
) -> list[ComplaintRow]:
    rows = session.exec(
        select(ComplaintRow)
        .where(
            ComplaintRow.kind == RecordKind.CASE.value,
            ComplaintRow.channel == channel,
            ComplaintRow.reporter_chat_id == chat_id,
        )
        .order_by(col(ComplaintRow.received_at).desc(), col(ComplaintRow.id).desc())
        .limit(limit)
    ).all()
    return list(rows)


def _overrides(settings: Settings, channel: str) -> Mapping[str, str]:
    try:
        channel_settings = settings.channel(channel)
    except KeyError:
        return {}
    messages = getattr(channel_settings, "messages", None)
    return messages if isinstance(messages, Mapping) else {}


def _session_minutes(settings: Settings, channel: str) -> str:
    try:
        minutes = float(getattr(settings.channel(channel), "session_minutes", 10))
    except KeyError:
        minutes = 10.0
    return f"{minutes:g}"


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _date(case: ComplaintRow, tz: tzinfo) -> str:
    return case.received_at.astimezone(tz).strftime("%d-%m-%Y")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
