"""Serving attachment bytes safely: complaint files are untrusted.

Only a few raster image types are shown inline (an SVG can carry script);
everything else is sent as ``application/octet-stream`` to download. The
filename goes into ``Content-Disposition`` in RFC 6266 form, and a sandbox
CSP keeps anything that is opened from running script on our origin.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import Response

from storage.attachments import read_attachment
from storage.tables import AttachmentRow

INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def is_image(row: AttachmentRow) -> bool:
    """True when the file may be shown inline as a picture."""
    return row.content_type.lower().split(";")[0].strip() in INLINE_IMAGES


def attachment_response(row: AttachmentRow, *, download: bool = False) -> Response:
    """The file as a response with safe headers; 404 when its bytes are gone."""
    data = read_attachment(row) if row.stored else None
    if data is None:
        raise HTTPException(404, "Berkas lampiran tidak disimpan.")
    inline = is_image(row) and not download
    media_type = row.content_type.split(";")[0].strip().lower() if inline else None
    disposition = "inline" if inline else "attachment"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", row.filename)[:100] or "lampiran"
    headers = {
        "Content-Disposition": (
            f'{disposition}; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(row.filename[:200], safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }
    return Response(
        content=data,
        media_type=media_type or "application/octet-stream",
        headers=headers,
    )
