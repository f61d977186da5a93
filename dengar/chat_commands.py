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
from contracts.policy import ChannelPolicy
from contracts.records import Confidentiality, InboundMessage, RecordKind
from contracts.tracking import canonical
from dengar.confidentiality import (
    LoweringRefused,
    change_confidentiality,
    forwarded_to,
)
from dispatcher.notify import STATUS_LABELS
from dispatcher.outbox.queue import release_held
from storage.tables import ComplaintRow

# statuses after which a case no longer takes /anonim or /rahasia
FINAL_STATUSES = frozenset({"resolved", "closed", "rejected", "dismissed"})
STATUS_LIST_LIMIT = 10
# the commands that choose a case's confidentiality (the acknowledgement's
# buttons send them with the case's tracking number)
CHOICES = ("biasa", "anonim", "rahasia")

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
    "anonim_after_delivery": (
        "Pengaduan {tracking_no} kini bersifat anonim. Pengaduan ini sudah "
        "diteruskan ke instansi sebelum permintaan Anda, bersama identitas "
        "Anda; kami telah meminta instansi tersebut untuk menghapus identitas "
        "Anda, dan identitas Anda tidak lagi ditampilkan kepada instansi "
        "maupun publik."
    ),
    "rahasia_after_delivery": (
        "Pengaduan {tracking_no} kini bersifat rahasia. Pengaduan ini sudah "
        "diteruskan ke instansi sebelum permintaan Anda; kami telah meminta "
        "instansi tersebut untuk menghapus identitas Anda, dan isinya tidak "
        "akan ditampilkan kepada publik."
    ),
    "biasa": (
        "Baik. Pengaduan {tracking_no} diteruskan ke instansi sebagai pengaduan "
        "biasa, bersama identitas Anda agar instansi dapat menghubungi Anda."
    ),
    "already_protected": (
        "Pengaduan {tracking_no} sudah bersifat {level}; sifat ini tidak dapat "
        "diturunkan melalui obrolan. Bila perlu, hubungi petugas pengaduan."
    ),
    "choice_not_found": (
        "Pengaduan {tracking_no} tidak ditemukan di antara pengaduan aktif "
        "Anda, sehingga pilihan ini tidak dapat diterapkan."
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
    session: Session, item: InboundMessage, settings: Settings, policy: ChannelPolicy
) -> str | None:
    """The reply to the command in ``item.command``, or None; ``policy`` is
    the item's channel's.

    Changes (``/anonim``, ``/rahasia``) are made in ``session``; the caller
    commits them with the command's own record.
    """
    command = item.command or ""
    args = item.command_args.strip()
    chat_id = item.reporter.chat_id
    overrides = policy.messages
    prefix = settings.tracking_prefix
    if command == "start":
        return message(
            "start",
            overrides,
            # "layanan pengaduan {bot_label}": the label names whose service
            bot_label=overrides.get("bot_label", "masyarakat"),
            prefix=prefix,
            # the window threading uses: what the bot says is what it does
            session_minutes=f"{policy.session_minutes:g}",
        )
    if chat_id is None:
        return None
    if command == "status":
        tz = _zone(settings.timezone)
        return _status(session, item.channel, chat_id, args, prefix, overrides, tz)
    if command == "baru":
        return message("baru", overrides)
    if command in CHOICES:
        number = canonical(args.split()[0], prefix) if args else None
        return _protect(session, item, chat_id, command, number, overrides)
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
    item: InboundMessage,
    chat_id: str,
    command: str,
    number: str | None,
    overrides: Mapping[str, str],
) -> str:
    """Set the confidentiality the citizen chose; a choice also ends the
    case's confirmation window, so its agency gets it now."""
    channel = item.channel
    current = _chosen_case(session, channel, chat_id, number)
    if current is None:
        if number:
            return message("choice_not_found", overrides, tracking_no=number)
        return message("no_open_case", overrides, command=command)
    assert current.id is not None
    tracking_no = current.tracking_no
    try:
        change_confidentiality(
            session,
            current,
            Confidentiality(command).value,
            actor=f"reporter:{channel}:{chat_id}",
            via="tombol" if item.button_press_id else f"/{command}",
        )
    except LoweringRefused:
        # a higher level already covers what was asked; never lowered from
        # the chat
        release_held(session, current.id)
        if current.confidentiality == "rahasia" and command == "anonim":
            return message("already_rahasia", overrides, tracking_no=tracking_no)
        return message(
            "already_protected",
            overrides,
            tracking_no=tracking_no,
            level=current.confidentiality,
        )
    release_held(session, current.id)
    if command != "biasa" and forwarded_to(session, current):
        return message(f"{command}_after_delivery", overrides, tracking_no=tracking_no)
    return message(command, overrides, tracking_no=tracking_no)


def _chosen_case(
    session: Session, channel: str, chat_id: str, number: str | None
) -> ComplaintRow | None:
    """The chat's open case ``number`` (a button names its case), else its
    newest open case."""
    cases = [
        c
        for c in _cases(session, channel, chat_id, 20)
        if c.status not in FINAL_STATUSES
    ]
    if number:
        return next((c for c in cases if c.tracking_no == number), None)
    return cases[0] if cases else None


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
