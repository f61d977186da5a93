"""Finding and downloading the new mail of an IMAP channel's folders.

The cursor holds each folder's ``UIDVALIDITY:last UID``; a scan fetches
what came after, at most ``limit`` messages in all, oldest UID first, with
bodies downloaded in chunks of bounded size. Messages over
``max_message_bytes`` are not downloaded: only their headers are kept, as a
rejected item.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient

from channels.imap.connection import select_folder
from config.channel_settings import ImapChannelSettings
from contracts.channel import FetchResult
from contracts.mail_ids import mail_external_id
from contracts.records import InboundMessage, RejectedItem

# the channel's logger: log filters set up for it keep catching these
log = logging.getLogger("channels.imap.channel")

# bodies are fetched in groups of about this many bytes, to bound memory
_FETCH_CHUNK_BYTES = 20_000_000


@dataclass(frozen=True, slots=True)
class ImapReceipt:
    """Where a fetched message lives, for ``after_import``."""

    folder: str
    uidvalidity: int
    uid: int


def parse_cursor(cursor: str | None) -> dict[str, tuple[int, int]]:
    """``{folder: (UIDVALIDITY, last UID)}``; empty (re-scan all) when the
    cursor is missing or unreadable."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        marks = {}
        for folder, mark in data.items():
            validity, uid = str(mark).split(":", 1)
            marks[str(folder)] = (int(validity), int(uid))
        return marks
    except (ValueError, AttributeError, TypeError):
        # an unreadable cursor re-scans: dedupe makes that safe, skipping is not
        log.warning("unreadable IMAP cursor %r: re-scanning every folder", cursor[:200])
        return {}


def scan(
    client: IMAPClient,
    settings: ImapChannelSettings,
    marks: dict[str, tuple[int, int]],
    limit: int,
) -> FetchResult:
    """Up to ``limit`` messages after ``marks`` over the channel's folders."""
    items: list[InboundMessage] = []
    rejected: list[RejectedItem] = []
    receipts: list[ImapReceipt] = []
    new_marks = dict(marks)
    more = False
    for folder in settings.folders:
        info = select_folder(client, folder)
        validity = int(info[b"UIDVALIDITY"])
        old_validity, last_uid = marks.get(folder, (validity, 0))
        if old_validity != validity:
            log.warning(
                "IMAP folder %r UIDVALIDITY changed (%s -> %s): re-scanning",
                folder,
                old_validity,
                validity,
            )
            last_uid = 0
        new_marks[folder] = (validity, last_uid)
        room = limit - len(items) - len(rejected)
        if room <= 0:
            more = True
            break
        # "N:*" always matches the newest message, even below N: filter
        uids = sorted(
            u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid
        )
        if len(uids) > room:
            uids, more = uids[:room], True
        if not uids:
            continue
        _fetch_folder(
            client, settings, folder, validity, uids, items, rejected, receipts
        )
        new_marks[folder] = (validity, uids[-1])
    return FetchResult(
        items=items,
        cursor=json.dumps({f: f"{v}:{u}" for f, (v, u) in new_marks.items()}),
        rejected=rejected,
        more=more,
        receipts=receipts,
    )


def _fetch_folder(
    client: IMAPClient,
    settings: ImapChannelSettings,
    folder: str,
    validity: int,
    uids: list[int],
    items: list[InboundMessage],
    rejected: list[RejectedItem],
    receipts: list[ImapReceipt],
) -> None:
    limit = settings.max_message_bytes
    meta = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
    wanted: list[int] = []
    for uid in uids:
        if uid not in meta:
            continue  # expunged meanwhile
        size = int(meta[uid].get(b"RFC822.SIZE", 0))
        if size > limit:
            # left untouched (unseen, in place) where the reason says it is
            rejected.append(_oversize(client, settings, folder, validity, uid, size))
        else:
            receipts.append(ImapReceipt(folder, validity, uid))
            wanted.append(uid)
    for chunk in _chunks(wanted, meta):
        bodies = client.fetch(chunk, ["BODY.PEEK[]"])
        for uid in chunk:
            raw = bodies.get(uid, {}).get(b"BODY[]")
            if raw is None:
                continue  # expunged between the two fetches
            items.append(
                InboundMessage(
                    channel=settings.name,
                    external_id=mail_external_id(bytes(raw)),
                    received_at=_aware(meta[uid].get(b"INTERNALDATE")),
                    raw=bytes(raw),
                    raw_format="rfc822",
                    metadata={
                        "imap_folder": folder,
                        "imap_uid": uid,
                        "imap_uidvalidity": validity,
                    },
                )
            )


def _oversize(
    client: IMAPClient,
    settings: ImapChannelSettings,
    folder: str,
    validity: int,
    uid: int,
    size: int,
) -> RejectedItem:
    # the header block only: enough to see who wrote, without pulling
    # a huge message into memory and the quarantine table
    header = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
    raw = bytes(header.get(b"BODY[HEADER]", b""))
    where = f"IMAP folder {folder!r} UIDVALIDITY {validity} UID {uid}"
    return RejectedItem(
        channel=settings.name,
        external_id=mail_external_id(raw),
        raw=raw,
        reason=(
            f"message is {size} bytes, over max_message_bytes "
            f"({settings.max_message_bytes}); only its header is kept "
            f"here, the whole message is in {where}"
        ),
    )


def _chunks(uids: list[int], meta: dict[int, Any]) -> Iterable[list[int]]:
    chunk: list[int] = []
    size = 0
    for uid in uids:
        uid_size = int(meta[uid].get(b"RFC822.SIZE", 0))
        if chunk and size + uid_size > _FETCH_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(uid)
        size += uid_size
    if chunk:
        yield chunk


def _aware(value: object) -> datetime:
    if isinstance(value, datetime):
        # imapclient gives naive local time by default; astimezone reads it so
        return value.astimezone(UTC)
    return datetime.now(UTC)
