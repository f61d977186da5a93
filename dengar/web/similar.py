"""'Sudah dilaporkan?': open cases like the one a citizen is about to send.

Read from the duplicate index (the one the pipeline links duplicates with),
kept to the same kecamatan and shown only by what cannot identify anyone:
category, kecamatan, date and status — never text, names or places finer
than the kecamatan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from dengar.app import App
from dengar.web.tracking import citizen_status
from normalizer.dedupe.database import case_text
from normalizer.dedupe.keys import DedupeCase
from storage.tables import ComplaintRow

# a case this much below the linking threshold is still worth asking about
# (the citizen decides); further below, a shared place makes cases look alike
BELOW_THRESHOLD = 10.0
_LOOKED_AT = 30


@dataclass(frozen=True, slots=True)
class SimilarCase:
    """One open case as the form shows it (the id and number stay on the
    server: the page gets a signed reference)."""

    id: int
    tracking_no: str
    category: str | None
    region: str | None
    received_at: datetime
    status: str
    status_label: str


def similar_open_cases(
    app: App,
    session: Session,
    *,
    title: str,
    text: str,
    region: str | None,
    category: str | None,
    limit: int,
) -> list[SimilarCase]:
    """Up to ``limit`` open cases like this text in ``region``, best first."""
    if limit <= 0 or not (title or text):
        return []
    app.enable_dedupe()
    deduper = app.pipeline.deduper
    if deduper is None:
        return []
    deduper.catch_up(session)
    probe = DedupeCase(
        id=-1,
        text=case_text(title, text),
        received_at=datetime.now(UTC),
        category=category or None,
        region=region or None,
    )
    least = app.settings.dedupe.threshold - BELOW_THRESHOLD
    scored = [c for c in deduper.index.scored(probe) if c.score >= least]
    ids = [c.id for c in scored[:_LOOKED_AT]]
    if not ids:
        return []
    open_statuses = app.settings.dedupe.open_statuses
    rows = {
        r.id: r
        for r in session.exec(
            select(ComplaintRow).where(
                col(ComplaintRow.id).in_(ids),
                ComplaintRow.kind == "case",
                col(ComplaintRow.status).in_(open_statuses),
                col(ComplaintRow.duplicate_of_id).is_(None),
                ComplaintRow.confidentiality != "rahasia",
            )
        )
    }
    found: list[SimilarCase] = []
    for case_id in ids:
        row = rows.get(case_id)
        if row is None or row.tracking_no is None or row.status == "triage":
            continue
        if region and row.region != region:
            continue
        found.append(
            SimilarCase(
                case_id,
                row.tracking_no,
                row.category,
                row.region,
                row.received_at,
                row.status,
                citizen_status(row.status),
            )
        )
        if len(found) >= limit:
            break
    return found
