"""A web form submission as it is spooled and read back by the channel.

The web app writes it once the form passed every check; the channel turns
it into an ``InboundMessage``. JSON, so that staff can read a spooled one;
files travel base64-encoded and already cleaned (``channels.webform.files``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

FORMAT_VERSION = 1
Confidentiality = Literal["biasa", "anonim", "rahasia"]
ContactKind = Literal["none", "email", "whatsapp"]


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A cleaned file of a submission."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Submission:
    """What a citizen sent through ``/lapor``."""

    form_id: str
    tracking_no: str
    received_at: datetime
    title: str
    text: str
    incident_date: date
    kecamatan: str | None = None
    desa: str | None = None
    place_detail: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_source: str | None = None  # pin, perangkat, foto
    category: str | None = None
    confidentiality: Confidentiality = "biasa"
    contact_kind: ContactKind = "none"
    contact: str | None = None
    supports: str | None = None  # tracking number of "saya juga mengalami ini"
    captcha: str = "altcha"  # altcha, or "none" (JavaScript off)
    files: tuple[StoredFile, ...] = field(default=())

    def to_json(self) -> bytes:
        """The spooled form."""
        data = asdict(self)
        data["version"] = FORMAT_VERSION
        data["received_at"] = self.received_at.isoformat()
        data["incident_date"] = self.incident_date.isoformat()
        data["files"] = [
            {
                "filename": f.filename,
                "content_type": f.content_type,
                "data": base64.b64encode(f.data).decode(),
            }
            for f in self.files
        ]
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Submission:
        """Read a spooled submission; ``ValueError`` when it is not one."""
        return cls.from_stored(body)[0]

    @classmethod
    def from_stored(cls, body: bytes) -> tuple[Submission, int]:
        """A spooled submission or the raw payload kept with its case
        (:meth:`without_files`), and how many files the latter left out."""
        data: dict[str, Any] = json.loads(body)
        if not isinstance(data, dict) or data.pop("version", None) != FORMAT_VERSION:
            raise ValueError("not a web form submission of this version")
        listed = data.pop("files", [])
        files = tuple(
            StoredFile(f["filename"], f["content_type"], base64.b64decode(f["data"]))
            for f in listed
            if not _placeholder(f["data"])
        )
        data["received_at"] = datetime.fromisoformat(data["received_at"])
        data["incident_date"] = date.fromisoformat(data["incident_date"])
        try:
            return cls(**data, files=files), len(listed) - len(files)
        except TypeError as exc:
            raise ValueError(f"unexpected fields: {exc}") from None

    def without_files(self) -> bytes:
        """The raw payload kept with the case: the files are stored as
        attachments, so only their names and types are repeated here."""
        data = json.loads(self.to_json())
        for f in data["files"]:
            f["data"] = f"<{len(base64.b64decode(f['data']))} bytes>"
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _placeholder(data: str) -> bool:
    return data.startswith("<") and data.endswith(" bytes>")
