"""The one message format every agency sink carries (schema v1).

Documented in ``docs/schema/agency-message.v1.json``. Confidentiality is
applied here, where data leaves Dengar: an ``anonim`` case never carries the
reporter's identity, and its texts are the cleaned ones (no signature, no
quoted reply) with personal data (NIK, phone numbers, e-mail addresses)
masked; a ``rahasia`` case carries only what the agency needs to act (no
identity, no source handles, no subject line).

Codes stay codes for the agency's software (``status``, ``routing_reason``);
what a person at the agency reads beside them is Indonesian
(``status_text``, ``routing_reason_text``, rendered by
:mod:`dispatcher.wording`).

A message is an ``event``: ``dispatched`` (a case for the agency) or
``redacted`` (the case became confidential after the agency received it: the
same case again, confidentiality applied, with ``redaction`` asking the
agency to remove the identity it holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dispatcher.privacy import mask_pii
from dispatcher.wording import in_indonesian, status_label
from storage.batch_sql import among
from storage.tables import AttachmentRow, ComplaintRow

SCHEMA_ID = "https://dengar.id/schema/agency-message.v1.json"
SCHEMA_VERSION = 1
DISPATCHED, REDACTED = "dispatched", "redacted"
HIDDEN_LEVELS = frozenset({"anonim", "rahasia"})
REDACTION_NOTE = (
    "Pelapor meminta agar identitasnya dirahasiakan setelah pengaduan ini "
    "diteruskan kepada instansi Anda. Mohon hapus nama, alamat surel, nomor "
    "telepon, akun, dan data pribadi lain pelapor dari salinan pengaduan ini "
    "di sistem instansi Anda, dan gunakan isi pesan ini sebagai penggantinya."
)


def idempotency_key(complaint: ComplaintRow | CaseRecord, agency_code: str) -> str:
    """The key a receiver sees again if we re-send after a crash."""
    return f"{complaint.tracking_no}/{agency_code}"


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """The fields of a case that its message carries."""

    id: int
    tracking_no: str | None
    status: str
    confidentiality: str
    channel: str
    received_at: datetime
    category: str | None
    region: str | None
    subject: str | None
    clean_text: str
    location_lat: float | None
    location_lon: float | None
    location_label: str | None
    reporter_name: str | None
    reporter_email: str | None
    reporter_phone: str | None
    reporter_handle: str | None
    routing_reason: str | None

    @classmethod
    def of(cls, case: Any) -> CaseRecord:
        """From a ``ComplaintRow`` or any row with those fields."""
        return cls(*(getattr(case, name) for name in cls.__slots__))


@dataclass(frozen=True, slots=True)
class Supporter:
    """One more report of a case's problem (a linked duplicate), as the
    agency sees it: when and where, never who."""

    tracking_no: str | None
    channel: str
    received_at: datetime

    def as_json(self) -> dict[str, str | None]:
        """The ``supporter_reports`` item of the agency message."""
        return {
            "tracking_no": self.tracking_no,
            "channel": self.channel,
            "received_at": self.received_at.isoformat(),
        }


@dataclass
class CaseExtras:
    """What a case's message carries besides the case row itself."""

    attachments: list[AttachmentRow] = field(default_factory=list)
    follow_ups: list[ComplaintRow] = field(default_factory=list)
    supporters: int = 0
    supporter_reports: list[Supporter] = field(default_factory=list)

    @property
    def supporter_channels(self) -> list[str]:
        """The channels the supporters wrote on, each once, first seen first."""
        return list(dict.fromkeys(s.channel for s in self.supporter_reports))


def load_extras(session: Session, case_ids: Iterable[int]) -> dict[int, CaseExtras]:
    """Attachments, follow-ups and supporters (linked duplicates) of many
    cases in three queries, whatever their number; every id gets an entry."""
    extras = {case_id: CaseExtras() for case_id in case_ids}
    if not extras:
        return extras
    dialect = session.get_bind().dialect.name
    for attachment in session.exec(
        select(AttachmentRow)
        .where(among(dialect, AttachmentRow.complaint_id, extras))
        .order_by(col(AttachmentRow.id))
    ):
        extras[attachment.complaint_id].attachments.append(attachment)
    for follow_up in session.exec(
        select(ComplaintRow)
        .where(among(dialect, ComplaintRow.follow_up_of_id, extras))
        .order_by(col(ComplaintRow.received_at), col(ComplaintRow.id))
    ):
        assert follow_up.follow_up_of_id is not None
        extras[follow_up.follow_up_of_id].follow_ups.append(follow_up)
    for case_id, found in load_supporters(session, extras).items():
        extras[case_id].supporters = len(found)
        extras[case_id].supporter_reports = found
    return extras


def load_supporters(
    session: Session, case_ids: Iterable[int]
) -> dict[int, list[Supporter]]:
    """The supporters (linked duplicates) of many cases in one query, oldest
    first; a case without any has no entry."""
    ids = list(case_ids)
    found: dict[int, list[Supporter]] = {}
    if not ids:
        return found
    dialect = session.get_bind().dialect.name
    duplicate_of = col(ComplaintRow.duplicate_of_id)
    for case_id, number, channel, received_at in session.exec(
        select(
            duplicate_of,
            ComplaintRow.tracking_no,
            ComplaintRow.channel,
            ComplaintRow.received_at,
        )
        .where(among(dialect, duplicate_of, ids))
        .order_by(col(ComplaintRow.received_at), col(ComplaintRow.id))
    ):
        if case_id is not None:
            found.setdefault(case_id, []).append(
                Supporter(number, channel, received_at)
            )
    return found


def build_message(
    session: Session, complaint: ComplaintRow, agency_code: str, agency_name: str
) -> dict[str, Any]:
    """The agency message for ``complaint``, confidentiality applied."""
    assert complaint.id is not None
    extras = load_extras(session, [complaint.id])[complaint.id]
    return compose_message(CaseRecord.of(complaint), extras, agency_code, agency_name)


def compose_message(
    complaint: CaseRecord, extras: CaseExtras, agency_code: str, agency_name: str
) -> dict[str, Any]:
    """The agency message from already loaded rows (no database access), so a
    batch of cases costs the queries of :func:`load_extras` only."""
    secret = complaint.confidentiality == "rahasia"
    hidden = complaint.confidentiality in HIDDEN_LEVELS
    who = identity_of(complaint) if hidden else ()
    location = None
    if complaint.location_lat is not None and complaint.location_lon is not None:
        location = {
            "latitude": complaint.location_lat,
            "longitude": complaint.location_lon,
            "label": complaint.location_label,
        }
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "event": DISPATCHED,
        "idempotency_key": idempotency_key(complaint, agency_code),
        "dengar_id": complaint.id,
        "tracking_no": complaint.tracking_no,
        "agency": {"code": agency_code, "name": agency_name},
        "status": complaint.status,
        "status_text": status_label(complaint.status),
        "confidentiality": complaint.confidentiality,
        "channel": complaint.channel,
        "received_at": complaint.received_at.isoformat(),
        "category": complaint.category,
        "region": complaint.region,
        "subject": None if secret else _shown(complaint.subject, who, hidden),
        "text": _shown(complaint.clean_text, who, hidden) or "",
        "location": location,
        "reporter": None if hidden else _reporter(complaint),
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "stored": a.stored,
            }
            for a in extras.attachments
        ],
        "follow_ups": [
            {
                "received_at": f.received_at.isoformat(),
                "text": _shown(f.clean_text, who, hidden) or "",
            }
            for f in extras.follow_ups
        ],
        "supporters": extras.supporters,
        "supporter_reports": [s.as_json() for s in extras.supporter_reports],
        "routing_reason": complaint.routing_reason,
        "routing_reason_text": in_indonesian(complaint.routing_reason) or None,
    }


def redaction_of(
    message: dict[str, Any], previous: str, requested_at: datetime
) -> dict[str, Any]:
    """``message`` (the case as it now is) turned into the ``redacted`` event
    asking the agency to remove the identity it received earlier."""
    tracking_no = message.get("tracking_no")
    agency = message.get("agency") or {}
    return {
        **message,
        "event": REDACTED,
        "redaction": {
            "previous_confidentiality": previous,
            "requested_at": requested_at.isoformat(),
            "replaces": f"{tracking_no}/{agency.get('code')}",
            "note": REDACTION_NOTE,
        },
    }


def apply_confidentiality(
    message: dict[str, Any], level: str, identity: Sequence[str | None] = ()
) -> dict[str, Any]:
    """A stored message (e.g. an agency's database queue) under the case's
    current ``level``: what :func:`compose_message` would leave out now is
    left out, whatever level the message was built under; ``identity``: the
    reporter's name, handle and contacts, masked in the texts."""
    if level not in HIDDEN_LEVELS:
        return message
    reporter = message.get("reporter") or {}
    who = [*identity, *(reporter.get(k) for k in ("name", "handle", "email"))]
    shown = dict(message)
    shown["confidentiality"] = level
    shown["reporter"] = None
    shown["text"] = mask_pii(str(message.get("text") or ""), who)
    subject = message.get("subject")
    hide_subject = level == "rahasia" or subject is None
    shown["subject"] = None if hide_subject else mask_pii(str(subject), who)
    shown["follow_ups"] = [
        {**f, "text": mask_pii(str(f.get("text") or ""), who)}
        for f in message.get("follow_ups") or []
    ]
    return shown


def identity_of(case: Any) -> tuple[str | None, ...]:
    """What names the reporter of ``case`` (a row or record) in a text."""
    return (
        case.reporter_name,
        case.reporter_handle,
        case.reporter_email,
        case.reporter_phone,
    )


def _shown(
    text: str | None, identity: Sequence[str | None], hidden: bool
) -> str | None:
    if text is None or not hidden:
        return text
    return mask_pii(text, identity)


def _reporter(complaint: CaseRecord) -> dict[str, str | None]:
    return {
        "name": complaint.reporter_name,
        "email": complaint.reporter_email,
        "phone": complaint.reporter_phone,
        "handle": complaint.reporter_handle,
    }
