"""Who may see what: the confidentiality rules, enforced in one place for
the pages and the API.

- ``biasa``: staff and the assigned agency see everything.
- ``anonim``: the content may be shown, the reporter's identity only to
  admins; everyone else reads the cleaned text (no signature, no quoted
  "… menulis:" reply) with personal data masked, and history entries made
  by the reporter without the reporter's account.
- ``rahasia``: only admins and the assigned agency see the case at all (and
  the identity, as for ``anonim``, only admins).

An agency sees only the cases assigned to it. Follow-ups and duplicates are
shown only through a case the principal may see.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, true

from dengar.web.auth import Principal
from dengar.web.pii import mask_pii
from dispatcher.message import identity_of
from storage.tables import ComplaintRow

HIDDEN = "(disembunyikan)"


def visible_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause selecting the cases ``principal`` may see."""
    if principal.is_admin:
        return true()
    if principal.role == "staff":
        return col(ComplaintRow.confidentiality) != "rahasia"
    return col(ComplaintRow.agency_code) == (principal.agency_code or "\x00")


def case_of(session: Session, row: ComplaintRow) -> ComplaintRow:
    """The case a follow-up belongs to (a case is its own)."""
    if row.kind == "follow_up" and row.follow_up_of_id is not None:
        parent = session.get(ComplaintRow, row.follow_up_of_id)
        if parent is not None:
            return parent
    return row


def can_see(principal: Principal, case: ComplaintRow) -> bool:
    """True when ``principal`` may see ``case`` (a case row, not a follow-up)."""
    if principal.is_admin:
        return True
    if principal.role == "staff":
        return case.confidentiality != "rahasia"
    return bool(principal.agency_code) and case.agency_code == principal.agency_code


def shows_reporter(principal: Principal, case: ComplaintRow) -> bool:
    """True when the reporter's identity of ``case`` may be shown."""
    return principal.is_admin or case.confidentiality == "biasa"


def masks_text(principal: Principal, case: ComplaintRow) -> bool:
    """True when personal data in the text of ``case`` must be masked."""
    return not principal.is_admin and case.confidentiality != "biasa"


def reporter_of(
    principal: Principal, case: ComplaintRow, row: ComplaintRow
) -> dict[str, str | None]:
    """The identity of ``row``'s reporter as ``principal`` may see it, under
    the confidentiality of ``case`` (its case)."""
    if not shows_reporter(principal, case):
        return {"name": HIDDEN, "email": None, "phone": None, "handle": None}
    return {
        "name": row.reporter_name,
        "email": row.reporter_email,
        "phone": row.reporter_phone,
        "handle": row.reporter_handle,
    }


def text_of(principal: Principal, case: ComplaintRow, text: str | None) -> str:
    """``text`` (of ``case`` or one of its records) as ``principal`` may see it."""
    if text is None:
        return ""
    if not masks_text(principal, case):
        return text
    return mask_pii(text, identity_of(case))


def body_of(principal: Principal, case: ComplaintRow, row: ComplaintRow) -> str:
    """The text of ``row`` (``case`` or one of its records) as ``principal``
    may read it: the original, or for a confidential case (not to admins)
    the cleaned text, whose signature and quoted reply may name the
    reporter, with personal data masked."""
    if masks_text(principal, case):
        return mask_pii(row.clean_text or "", identity_of(case))
    return row.original_text or ""


REPORTER_ACTOR = "pelapor"


def actor_of(principal: Principal, actor: str) -> str:
    """Who made a history entry, as ``principal`` may see it: an entry of
    the reporter names the reporter's account (``reporter:<channel>:<id>``),
    which only admins see."""
    if actor.startswith("reporter:") and not principal.is_admin:
        return REPORTER_ACTOR
    return actor


def case_summary(principal: Principal, case: ComplaintRow) -> dict[str, Any]:
    """The fields of a case for lists and the API, with the rules applied."""
    return {
        "tracking_no": case.tracking_no,
        "channel": case.channel,
        "received_at": case.received_at.isoformat(),
        "status": case.status,
        "agency": case.agency_code,
        "category": case.category,
        "region": case.region,
        "confidentiality": case.confidentiality,
        "subject": text_of(principal, case, case.subject) or None,
        "text": body_of(principal, case, case),
        "reporter": reporter_of(principal, case, case),
        "location": (
            {
                "lat": case.location_lat,
                "lon": case.location_lon,
                "label": case.location_label,
            }
            if case.location_lat is not None or case.location_label
            else None
        ),
    }
