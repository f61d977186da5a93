"""Duplicate links in the database: rebuilding the index at start, storing a
link on a complaint row, and the staff's manual link and unlink."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.index import (
    BulkRow,
    DedupeCase,
    DuplicateIndex,
    Link,
    key_tokens,
    reporter_keys,
)
from normalizer.matching import MATCHING_CHARS, matching_text
from storage.tables import ComplaintRow, DuplicateUnlinkRow

_REASON_MAX = 512
# bumped whenever key_tokens or case_text change what they keep: a stored
# key of another version is recomputed from the text at rebuild
KEY_VERSION = "8"


class LinkError(ValueError):
    """A manual link or unlink that cannot be made; the message says why."""


_PHONE = re.compile(r"(?<!\d)(?:\+?62|0)[\s.-]?8[\d\s.-]{7,14}\d")


def case_text(
    subject: str | None, clean_text: str, reporter_name: str | None = None
) -> str:
    """The matching text of a case: its subject (when it is not a reply's)
    and its text, without phone numbers or the words of the reporter's name
    (a signature says who wrote, not what the problem is)."""
    text = clean_text
    if subject and not subject.lower().startswith(("re:", "fwd:", "fw:")):
        text = f"{subject}\n{clean_text}"
    # matching reads only the start of a text: no need to clean the rest
    tokens = matching_text(_PHONE.sub(" ", text[:MATCHING_CHARS])).split()
    if reporter_name:
        name = set(matching_text(reporter_name).split())
        tokens = [t for t in tokens if t not in name]
    return " ".join(tokens)


def stored_key(keys: list[str]) -> str:
    """The ``dedupe_key`` column for a case of :func:`key_tokens` ``keys``,
    tagged with :data:`KEY_VERSION`."""
    return f"{KEY_VERSION}:{' '.join(keys)}"


def _stored_text(key: str | None) -> str | None:
    # the key tokens of a stored key of this version: already a matching text
    if key is None or not key.startswith(KEY_VERSION + ":"):
        return None
    return key[len(KEY_VERSION) + 1 :]


def case_from_row(row: ComplaintRow) -> DedupeCase:
    """What dedupe needs from a stored (flushed: ``row.id`` set) case row."""
    if row.id is None:
        raise ValueError("flush the complaint row before building its DedupeCase")
    return DedupeCase(
        id=row.id,
        text=case_text(row.subject, row.clean_text, row.reporter_name),
        received_at=row.received_at,
        reporter=reporter_keys(
            row.channel,
            email=row.reporter_email,
            phone=row.reporter_phone,
            chat_id=row.reporter_chat_id,
            handle=row.reporter_handle,
        ),
        category=row.category,
        region=row.region,
        tracking_no=row.tracking_no,
        location=_point(row.location_lat, row.location_lon),
    )


def _point(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    return None if lat is None or lon is None else (lat, lon)


def rebuild_index(
    session: Session,
    settings: DedupeSettings,
    *,
    now: datetime | None = None,
    known_places: frozenset[str] = frozenset(),
) -> DuplicateIndex:
    """The index of the open cases received within the window, oldest first,
    with their links and the pairs staff unlinked; ``known_places``: the
    gazetteer's names (:func:`normalizer.dedupe.paraphrase.gazetteer_names`)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=settings.window_days)
    pairs = session.exec(
        select(DuplicateUnlinkRow.complaint_id, DuplicateUnlinkRow.other_id)
    ).all()
    index = DuplicateIndex(settings, unlinked=pairs, known_places=known_places)
    t = ComplaintRow.__table__.c  # type: ignore[attr-defined]
    query = (
        _open_cases(settings, since)
        .order_by(t.received_at, t.id)
        .execution_options(yield_per=5000)
    )
    index.build(map(_bulk_row, session.execute(query)))
    return index


def _open_cases(settings: DedupeSettings, since: datetime) -> Any:
    """The columns dedupe reads of the open cases received since ``since``
    (no ORM objects, no original text; the text only where no key of this
    version is stored)."""
    t = ComplaintRow.__table__.c  # type: ignore[attr-defined]
    current = t.dedupe_key.startswith(KEY_VERSION + ":")
    return sa_select(
        t.id, t.dedupe_key, t.reporter_name, t.received_at,
        case((current, None), else_=t.subject).label("subject"),
        case((current, None), else_=t.clean_text).label("clean_text"),
        t.channel, t.reporter_email, t.reporter_phone, t.reporter_chat_id,
        t.reporter_handle, t.category, t.region, t.tracking_no,
        t.duplicate_of_id, t.location_lat, t.location_lon,
    ).where(
        t.kind == "case",
        t.status.in_(settings.open_statuses),
        t.received_at >= since,
    )  # fmt: skip


def _bulk_row(row: Any) -> BulkRow:
    # what DuplicateIndex.build takes, from a row of _open_cases: unpacked by
    # position (a name lookup per column costs more than the rest of a row)
    (case_id, stored, name, received, subject, clean_text, channel, email,
     phone, chat_id, handle, category, region, tracking_no, primary, lat,
     lon) = row  # fmt: skip
    text = _stored_text(stored)
    keys = (
        text.split()
        if text is not None
        # no key of this version stored: made from the text
        else key_tokens(case_text(subject, clean_text, name))
    )
    reporter = reporter_keys(
        channel, email=email, phone=phone, chat_id=chat_id, handle=handle
    )
    return (
        case_id, keys, received.timestamp(), reporter, category,
        region, tracking_no, primary, _point(lat, lon),
    )  # fmt: skip


def _indexed(row: Any) -> tuple[DedupeCase, int | None, list[str] | None]:
    # what DuplicateIndex.add_many takes (the case, its link, its key
    # tokens), read as the bulk build reads it: the case's text is its key
    (case_id, keys, _, reporter, category, region, tracking_no, primary,
     location) = _bulk_row(row)  # fmt: skip
    case = DedupeCase(
        case_id, " ".join(keys), row.received_at, reporter, category, region,
        tracking_no, location,
    )  # fmt: skip
    return case, primary, keys


def apply_link(row: ComplaintRow, link: Link) -> None:
    """Store ``link`` on the (new) case row; the caller commits."""
    row.duplicate_of_id = link.target_id
    row.duplicate_score = link.score
    row.duplicate_reason = link.reason[:_REASON_MAX]


def supporters(session: Session, primary_id: int) -> int:
    """How many cases are linked as duplicates of ``primary_id``."""
    count = session.exec(
        select(func.count())
        .select_from(ComplaintRow)
        .where(ComplaintRow.duplicate_of_id == primary_id)
    ).one()
    return int(count)


def _case(session: Session, case_id: int) -> ComplaintRow:
    row = session.get(ComplaintRow, case_id)
    if row is None:
        raise LinkError(f"no complaint with id {case_id}")
    if row.kind != "case":
        raise LinkError(f"{row.tracking_no or case_id} is a {row.kind}, not a case")
    return row


def find_case(session: Session, tracking_no: str) -> ComplaintRow | None:
    """The case with this tracking number, or None."""
    return session.exec(
        select(ComplaintRow).where(
            ComplaintRow.tracking_no == tracking_no, ComplaintRow.kind == "case"
        )
    ).first()


def primary_in_db(session: Session, case_id: int) -> int:
    """Follow ``duplicate_of_id`` to the primary (stops on a cycle)."""
    seen = {case_id}
    current = case_id
    while True:
        row = session.get(ComplaintRow, current)
        if row is None or row.duplicate_of_id is None:
            return current
        current = row.duplicate_of_id
        if current in seen:
            return min(seen)
        seen.add(current)


@dataclass(frozen=True, slots=True)
class ManualChange:
    """What a manual link or unlink did, for the CLI to print."""

    case_id: int
    primary_id: int | None
    moved: tuple[int, ...]  # duplicates of the case that followed it


def link_manually(
    session: Session,
    case_id: int,
    target_id: int,
    actor: str,
    index: DuplicateIndex | None = None,
) -> ManualChange:
    """Link ``case_id`` to ``target_id``'s primary, by a staff member.

    Duplicates of ``case_id`` follow it to the new primary, so no link points
    at a duplicate. Any earlier unlink of the pair is lifted. Refuses
    self-links and links that would close a cycle. The caller commits.
    """
    row = _case(session, case_id)
    target = _case(session, target_id)
    primary = primary_in_db(session, target_id)
    if case_id in (target_id, primary):
        raise LinkError(
            f"{row.tracking_no or case_id} cannot be a duplicate of itself"
            + (
                f" ({target.tracking_no or target_id} is its own duplicate)"
                if case_id != target_id
                else ""
            )
        )
    primary_row = _case(session, primary)
    row.duplicate_of_id = primary
    row.duplicate_score = None
    row.duplicate_reason = f"linked by hand by {actor} to {primary_row.tracking_no}"[
        :_REASON_MAX
    ]
    children = session.exec(
        select(ComplaintRow).where(ComplaintRow.duplicate_of_id == case_id)
    ).all()
    for child in children:
        child.duplicate_of_id = primary
        session.add(child)
    session.add(row)
    session.execute(
        delete(DuplicateUnlinkRow).where(
            or_(
                (col(DuplicateUnlinkRow.complaint_id) == case_id)
                & (col(DuplicateUnlinkRow.other_id) == primary),
                (col(DuplicateUnlinkRow.complaint_id) == primary)
                & (col(DuplicateUnlinkRow.other_id) == case_id),
            )
        )
    )
    if index is not None:
        index.allow(case_id, primary)
        index.set_primary(case_id, primary)
    return ManualChange(
        case_id, primary, tuple(sorted(c.id for c in children if c.id is not None))
    )


def unlink(
    session: Session, case_id: int, actor: str, index: DuplicateIndex | None = None
) -> ManualChange:
    """Make ``case_id`` a primary again, by a staff member, and record the
    pair so it is never linked automatically again. The caller commits."""
    row = _case(session, case_id)
    if row.duplicate_of_id is None:
        raise LinkError(f"{row.tracking_no or case_id} is not linked to any case")
    former = row.duplicate_of_id
    exists = session.exec(
        select(DuplicateUnlinkRow).where(
            DuplicateUnlinkRow.complaint_id == case_id,
            DuplicateUnlinkRow.other_id == former,
        )
    ).first()
    if exists is None:
        session.add(
            DuplicateUnlinkRow(complaint_id=case_id, other_id=former, actor=actor)
        )
    row.duplicate_of_id = None
    row.duplicate_score = None
    row.duplicate_reason = None
    session.add(row)
    if index is not None:
        index.forbid(case_id, former)
        index.set_primary(case_id, None)
    return ManualChange(case_id, None, ())


def unlinked_pairs(session: Session, case_id: int) -> list[DuplicateUnlinkRow]:
    """The unlinks recorded for ``case_id`` (either side), oldest first."""
    return list(
        session.exec(
            select(DuplicateUnlinkRow)
            .where(
                or_(
                    col(DuplicateUnlinkRow.complaint_id) == case_id,
                    col(DuplicateUnlinkRow.other_id) == case_id,
                )
            )
            .order_by(col(DuplicateUnlinkRow.id))
        ).all()
    )
