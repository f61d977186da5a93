"""Ask an agency's system for the status of its cases (``http`` sink with
``status``), and tell the citizen what changed.

Each run takes the agency's deliveries that have a remote id, whose case is
still open at the agency, and that were not asked about within the
configured ``interval``: they are claimed by stamping ``agency_checked_at``
in one ``UPDATE … RETURNING`` (so two workers never ask about the same case
at once, and a case failing to answer waits its interval like the others).
Each answer's status word is mapped to a Dengar status and applied through
:func:`dispatcher.status.change_status`, the event and the citizen's
notifications committed together.

Reading a status never changes a case when it fails: no answer, an error
status, an answer without the configured path, a word not in ``map``, or a
transition that is not allowed are logged and kept on the delivery
(``agency_status_error``), where ``/metrics`` counts them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session

from config.http_parts import HttpStatusSettings
from config.response_paths import PathProblem
from config.settings import AgencySettings
from config.sink_settings import HttpSinkSettings
from contracts.errors import DeliveryError
from contracts.records import CaseStatus
from dispatcher.outbox import queue as outbox
from dispatcher.sinks.base import Sink
from dispatcher.sinks.http import HttpSink, StatusReport
from dispatcher.sinks.http_client import Unreachable
from dispatcher.status import (
    NEEDS_MESSAGE,
    NEEDS_NOTE,
    AuditTrail,
    StatusChangeError,
    change_status,
    check_transition,
)
from storage.tables import ComplaintRow, OutboxRow, utcnow

log = logging.getLogger(__name__)

# the statuses of a case its agency still works on
OPEN_AT_AGENCY = ("received", "verified", "dispatched", "in_progress")
ERROR_LIMIT = 1000


class _Notifier(Protocol):
    def notify(self, session: Session, row: ComplaintRow, text: str) -> bool: ...


class PollApp(AuditTrail, Protocol):
    """What :func:`poll_once` needs of :class:`dengar.app.App`."""

    @property
    def sessions(self) -> Callable[[], Session]: ...

    @property
    def sinks(self) -> Mapping[str, Sink]: ...

    @property
    def pipeline(self) -> _Notifier: ...


@dataclass
class PollSummary:
    """What one :func:`poll_once` did."""

    asked: int = 0
    applied: int = 0  # a status change recorded (and told)
    unchanged: int = 0  # the same status, or a word with no mapping
    failed: int = 0  # could not be read or applied: nothing changed


@dataclass(frozen=True, slots=True)
class _Due:
    row_id: int
    ticket: str
    idempotency_key: str
    tracking_no: str | None


def status_settings(agency: AgencySettings) -> HttpStatusSettings | None:
    """The agency's ``status`` block, when its sink is ``http`` and has one."""
    sink = agency.sink
    return sink.status if isinstance(sink, HttpSinkSettings) else None


def claim_due(session: Session, agency: AgencySettings, now: datetime) -> list[_Due]:
    """Claim the deliveries of ``agency`` due to be asked about (commits)."""
    settings = status_settings(agency)
    assert settings is not None
    threshold = now - timedelta(seconds=settings.interval)
    rows = OutboxRow.__table__  # type: ignore[attr-defined]
    cases = ComplaintRow.__table__  # type: ignore[attr-defined]
    due = or_(rows.c.agency_checked_at.is_(None), rows.c.agency_checked_at <= threshold)
    candidates = (
        session.execute(
            select(rows.c.id)
            .join(cases, cases.c.id == rows.c.complaint_id)
            .where(
                rows.c.kind == outbox.KIND_AGENCY,
                rows.c.target == agency.code,
                rows.c.status == outbox.DELIVERED,
                rows.c.agency_ticket.is_not(None),
                cases.c.agency_code == agency.code,
                cases.c.status.in_(OPEN_AT_AGENCY),
                due,
            )
            .order_by(rows.c.agency_checked_at.is_not(None), rows.c.agency_checked_at)
            .limit(settings.batch_size)
        )
        .scalars()
        .all()
    )
    if not candidates:
        return []
    claimed = session.execute(
        update(rows)
        .where(and_(rows.c.id.in_(candidates), due))
        .values(agency_checked_at=now)
        .returning(rows.c.id, rows.c.agency_ticket, rows.c.idempotency_key)
    ).all()
    session.commit()
    numbers = dict(
        session.execute(
            select(rows.c.id, cases.c.tracking_no)
            .join(cases, cases.c.id == rows.c.complaint_id)
            .where(rows.c.id.in_([c[0] for c in claimed]))
        ).all()
    )
    return [_Due(i, ticket, key, numbers.get(i)) for i, ticket, key in claimed]


async def poll_once(app: PollApp, agency: AgencySettings) -> PollSummary:
    """Ask about every due case of ``agency`` and apply what changed."""
    settings = status_settings(agency)
    if settings is None:
        raise ValueError(f"agency {agency.code} has no http status settings")
    sink = app.sinks.get(agency.code)
    if not isinstance(sink, HttpSink):
        raise ValueError(f"agency {agency.code} has no http sink")
    # the database work runs in a thread: the event loop also delivers
    due = await asyncio.to_thread(_claim, app, agency)
    summary = PollSummary()
    for position, item in enumerate(due):
        summary.asked += 1
        try:
            report = await sink.ask_status(
                item.ticket, item.tracking_no, item.idempotency_key
            )
        except Unreachable as exc:
            # the system is down: the others would each wait the same
            # timeout; they are not asked this round (each waits its interval)
            reason = _reason(exc)
            for left in due[position:]:
                await asyncio.to_thread(_failed, app, agency, left, reason, summary)
            break
        except Exception as exc:  # noqa: BLE001 - a failed read changes nothing
            await asyncio.to_thread(_failed, app, agency, item, _reason(exc), summary)
            continue
        if report.word is None:
            reason = "the answer has no status word"
            await asyncio.to_thread(_failed, app, agency, item, reason, summary)
            continue
        await asyncio.to_thread(_apply, app, agency, settings, item, report, summary)
    return summary


def _claim(app: PollApp, agency: AgencySettings) -> list[_Due]:
    with app.sessions() as session:
        return claim_due(session, agency, utcnow())


def _reason(exc: Exception) -> str:
    # delivery errors and path problems are built without secrets; anything
    # else is named by its type only (its text may hold a URL with a token)
    if isinstance(exc, DeliveryError | PathProblem):
        detail = getattr(exc, "detail", None)
        return f"{exc} ({detail})" if detail else str(exc)
    return type(exc).__name__


def _failed(
    app: PollApp, agency: AgencySettings, item: _Due, reason: str, summary: PollSummary
) -> None:
    summary.failed += 1
    log.warning(
        "status of %s at %s (remote id %s) could not be read: %s",
        item.tracking_no,
        agency.code,
        item.ticket,
        reason,
    )
    with app.sessions() as session:
        row = session.get(OutboxRow, item.row_id)
        if row is not None:
            row.agency_status_error = reason[:ERROR_LIMIT]
            session.add(row)
            session.commit()


def _apply(
    app: PollApp,
    agency: AgencySettings,
    settings: HttpStatusSettings,
    item: _Due,
    report: StatusReport,
    summary: PollSummary,
) -> None:
    word = report.word or ""
    note, message = report.note, report.message
    mapping = {k.strip().casefold(): v for k, v in settings.map.items()}
    target = mapping.get(word.strip().casefold())
    problem: str | None = None
    with app.sessions() as session:
        row = session.get(OutboxRow, item.row_id)
        case = session.get(ComplaintRow, row.complaint_id) if row else None
        if row is None or case is None:
            return
        row.agency_status = word[:256]
        row.agency_status_error = None
        if target is None or case.status == target:
            summary.unchanged += 1
        else:
            status = CaseStatus(target)
            # a rerouting needs an internal note, a rejection a word to the
            # citizen: say what the agency's system says when it says no more
            if status in NEEDS_NOTE and not note:
                note = f"status di sistem {agency.name}: {word}"
            if status in NEEDS_MESSAGE and not message:
                message = f"Status pengaduan di sistem {agency.name}: {word}."

            def notify(to: ComplaintRow, text: str) -> None:
                app.pipeline.notify(session, to, text)  # outbox rows, same commit

            try:
                # checked first: a refused change must leave no event behind
                check_transition(case.status, status, note, message)
                actor = f"agency:{agency.code}"
                old = case.status
                change_status(session, case, status, note, actor, notify, message)
                app.audit(
                    session,
                    actor,
                    "case_status",
                    case.tracking_no,
                    f"{old} -> {status.value}",
                )
            except StatusChangeError as exc:
                problem = f"{word!r} means {target}, but {exc}"
                row.agency_status_error = problem
            else:
                summary.applied += 1
        session.add(row)
        session.commit()
    if problem is not None:
        summary.failed += 1
        log.warning(
            "status of %s at %s not applied: %s", item.tracking_no, agency.code, problem
        )


def failing_counts(session: Session) -> dict[str, int]:
    """Per agency, the open cases whose last status read failed (for /metrics)."""
    rows = OutboxRow.__table__  # type: ignore[attr-defined]
    cases = ComplaintRow.__table__  # type: ignore[attr-defined]
    found = session.execute(
        select(rows.c.target, func.count())
        .join(cases, cases.c.id == rows.c.complaint_id)
        .where(
            rows.c.agency_status_error.is_not(None),
            cases.c.status.in_(OPEN_AT_AGENCY),
        )
        .group_by(rows.c.target)
    ).all()
    return {str(target): int(n) for target, n in found}
