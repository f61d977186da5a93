"""Attachment bytes: content-hashed, size-limited, in the database or on disk."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from config.settings import AttachmentSettings
from contracts.records import InboundAttachment
from storage.tables import AttachmentRow


def attachment_row(
    complaint_id: int, attachment: InboundAttachment, settings: AttachmentSettings
) -> AttachmentRow:
    """The row for one attachment; its bytes kept unless over ``max_bytes``.

    On disk the file is named by its sha256, so writing it twice (a rerun
    after a crash) is harmless and identical files are stored once.
    """
    digest = hashlib.sha256(attachment.data).hexdigest()
    size = len(attachment.data)
    row = AttachmentRow(
        complaint_id=complaint_id,
        filename=attachment.filename[:512] or "attachment",
        content_type=attachment.content_type[:255],
        size=size,
        sha256=digest,
        inline=attachment.inline,
        stored=size <= settings.max_bytes,
    )
    if not row.stored:
        return row
    if settings.storage == "database":
        row.data = attachment.data
    else:
        row.path = str(_write_once(settings.directory, digest, attachment.data))
    return row


def _write_once(directory: Path, digest: str, data: bytes) -> Path:
    target = directory / digest[:2] / digest
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # write then rename, so a crash never leaves a half file under the hash name
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def read_attachment(row: AttachmentRow) -> bytes | None:
    """The bytes of a stored attachment, or None when they were not kept."""
    if row.data is not None:
        return row.data
    if row.path:
        return Path(row.path).read_bytes()
    return None
