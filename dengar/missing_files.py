"""Files a citizen sent that could not be fetched, written into the case's
history so staff know a photo is missing (and why) instead of finding a case
without it.

A channel lists such files in ``item.missing_files`` (``MissingFile``: kind,
filename, size, reason, file id and the ``service`` that holds it, Telegram
when absent); the file ids are kept in the record's extras and the raw
update, so the files can be fetched again.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from contracts.records import MissingFile
from storage.tables import ComplaintRow, StatusEvent

ACTOR = "dengar"
# the reason of a file the channel fetches again by itself (WhatsApp): the
# citizen is not asked to send it again
RETRYING = "retrying"

_KINDS = {
    "photo": "foto",
    "document": "dokumen",
    "video": "video",
    "voice": "pesan suara",
    "audio": "audio",
    "video_note": "pesan video",
    "animation": "animasi",
}


def _size(size: object) -> str:
    """``20 KB``, ``25,3 MB``: as staff read sizes (decimal comma)."""
    if not isinstance(size, int | float) or size < 0:
        return "?"
    if size < 1_000_000:
        return f"{max(round(size / 1000), 1)} KB"
    return f"{size / 1e6:.1f}".replace(".", ",") + " MB"


def describe(file: MissingFile, max_bytes: int | None) -> str:
    """One missing file, in Indonesian for staff."""
    kind = _KINDS.get(file.kind, file.kind or "berkas")
    name = file.filename or "tanpa nama"
    size = file.size
    what = f"{kind} \u201c{name}\u201d" + (f" ({_size(size)})" if size else "")
    reason = file.reason
    service = file.service or "Telegram"
    if reason == "too_large":
        limit = f" {_size(max_bytes)}" if max_bytes else ""
        why = f"melebihi batas ukuran{limit}"
    elif reason.startswith(RETRYING):
        why = (
            f"belum dapat diunduh dari server {service}; diunduh ulang "
            "otomatis dan ditambahkan ke pengaduan ini"
        )
    else:
        detail = reason.partition(":")[2].strip()
        why = f"tidak tersedia di server {service}" + (f" ({detail})" if detail else "")
    return f"{what}: {why}"


def note_missing_files(
    session: Session,
    row: ComplaintRow,
    files: Iterable[MissingFile],
    max_bytes: int | None,
) -> None:
    """Add a history entry to the case of ``row`` (the row itself, or the
    case it follows up) listing ``files``; the caller commits."""
    listed = [describe(f, max_bytes) for f in files]
    if not listed:
        return
    case = row
    if row.kind != "case" and row.follow_up_of_id is not None:
        case = session.get(ComplaintRow, row.follow_up_of_id) or row
    assert case.id is not None
    where = "tambahan informasi" if case is not row else "pesan pelapor"
    note = (
        f"Lampiran dari {where} tidak dapat diunduh: "
        + "; ".join(listed)
        + ". Kode berkasnya tersimpan bersama data pesan sehingga berkas dapat "
        "diunduh ulang."
    )
    session.add(
        StatusEvent(complaint_id=case.id, status=case.status, actor=ACTOR, note=note)
    )
