"""Routing model versions in the database, and the examples a deployment's
own decisions give (``dengar routing learn --from-history``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from dispatcher.routing_model import RoutingModel
from storage.tables import ComplaintRow, RoutingModelRow, StatusEvent

# The history notes of a staff decision on a case's agency: accepting it at
# triage (dengar.triage.accept), re-routing it (the dashboard's "alihkan")
# and giving it one (`dengar case update --status dispatched --agency`).
# Tests drive each and learn from it, so a change of wording there fails.
DECISION_NOTES = ("accepted at triage for %", "dialihkan dari %", "diberikan ke %")
SYSTEM_ACTOR = "dengar"
# cases whose agency a staff decision left standing
_SETTLED = ("rerouted", "dismissed")


@dataclass(frozen=True, slots=True)
class StoredModel:
    """A model read from the database with its version."""

    version: int
    source: str
    model: RoutingModel


def save_model(
    session: Session,
    model: RoutingModel,
    source: str,
    metrics: dict[str, Any] | None = None,
) -> int:
    """Store ``model`` as the next version (flushed, not committed)."""
    row = RoutingModelRow(
        source=source[:512],
        examples=model.examples,
        agencies=json.dumps(model.agencies),
        metrics=json.dumps(metrics) if metrics else None,
        data=model.to_bytes(),
    )
    session.add(row)
    session.flush()
    assert row.version is not None
    return row.version


def latest_version(session: Session) -> int | None:
    """The version in use (the highest), or None when none was trained."""
    version: int | None = session.exec(select(func.max(RoutingModelRow.version))).one()
    return version


def load_latest(session: Session) -> StoredModel | None:
    """The model in use, or None when none was trained."""
    row = session.exec(
        select(RoutingModelRow).order_by(col(RoutingModelRow.version).desc())
    ).first()
    if row is None or row.version is None:
        return None
    return StoredModel(row.version, row.source, RoutingModel.from_bytes(row.data))


def history_examples(session: Session) -> tuple[list[str], list[str]]:
    """(texts, agencies) of the cases whose agency staff decided: accepted
    at triage or re-routed, and not since sent back or dismissed. The text is
    what routing reads (subject and clean text); the agency the current one."""
    decided = (
        select(StatusEvent.complaint_id)
        .where(
            StatusEvent.actor != SYSTEM_ACTOR,
            or_(*(col(StatusEvent.note).like(p) for p in DECISION_NOTES)),
        )
        .distinct()
    )
    rows = session.exec(
        select(ComplaintRow.subject, ComplaintRow.clean_text, ComplaintRow.agency_code)
        .where(
            col(ComplaintRow.id).in_(decided),
            col(ComplaintRow.agency_code).is_not(None),
            col(ComplaintRow.status).not_in(_SETTLED),
        )
        .order_by(col(ComplaintRow.id))
    ).all()
    texts, agencies = [], []
    for subject, clean_text, agency in rows:
        text = routing_text(subject, clean_text)
        if text and agency:
            texts.append(text)
            agencies.append(agency)
    return texts, agencies


def routing_text(subject: str | None, body: str | None) -> str:
    """The text routing reads: the subject (or title), then the body."""
    return "\n".join(part for part in (subject, body) if part)


def model_summary(row: RoutingModelRow) -> dict[str, Any]:
    """A stored version as plain data (for ``dengar routing models``)."""
    return {
        "version": row.version,
        "source": row.source,
        "examples": row.examples,
        "agencies": json.loads(row.agencies),
        "metrics": json.loads(row.metrics) if row.metrics else None,
        "created_at": row.created_at.isoformat(),
    }


def list_models(session: Session) -> Sequence[RoutingModelRow]:
    """Every stored version, newest first."""
    return session.exec(
        select(RoutingModelRow).order_by(col(RoutingModelRow.version).desc())
    ).all()
