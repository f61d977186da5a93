"""``/healthz`` and ``/metrics`` (Prometheus text format).

The numbers are read from the database at scrape time by a custom collector,
so every process serving the dashboard reports the same totals and nothing
is kept in memory between scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from dengar.dbhealth import is_outage
from dengar.web.deps import Ctx, WebContext
from dengar.web.views import clocks
from dispatcher.outbox.queue import IN_FLIGHT, PENDING
from dispatcher.status_poll import failing_counts
from storage.tables import ChannelState, ComplaintRow, OutboxRow

router = APIRouter(tags=["operations"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DengarCollector(Collector):
    """Counts from the database, collected on each scrape."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family; while the database is unreachable only
        ``dengar_database_up 0``, so the scrape succeeds and an alert on that
        gauge fires instead of a vague "target down"."""
        up = GaugeMetricFamily(
            "dengar_database_up", "1 when the database answered this scrape, else 0."
        )
        try:
            with self.ctx.app.sessions() as session:
                families = [
                    *self._complaints(session),
                    *self._outbox(session, self.ctx.sla_now()),
                    *self._channels(session),
                    *self._agencies(session),
                ]
        except Exception as exc:
            if not is_outage(exc):
                raise
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _complaints(self, session: Session) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "dengar_complaints",
            "Inbound items stored, by channel and kind (case, follow_up, ignored).",
            labels=["channel", "kind"],
        )
        for channel, kind, n in session.exec(
            select(ComplaintRow.channel, ComplaintRow.kind, func.count()).group_by(
                col(ComplaintRow.channel), col(ComplaintRow.kind)
            )
        ).all():
            received.add_metric([channel, kind], n)
        yield received
        duplicates = GaugeMetricFamily(
            "dengar_duplicates",
            "Cases linked as duplicates of another case, by channel.",
            labels=["channel"],
        )
        for channel, n in session.exec(
            select(ComplaintRow.channel, func.count())
            .where(col(ComplaintRow.duplicate_of_id).is_not(None))
            .group_by(col(ComplaintRow.channel))
        ).all():
            duplicates.add_metric([channel], n)
        yield duplicates
        statuses = GaugeMetricFamily(
            "dengar_cases", "Cases by status and agency.", labels=["status", "agency"]
        )
        for status, agency, n in session.exec(
            select(ComplaintRow.status, ComplaintRow.agency_code, func.count())
            .where(ComplaintRow.kind == "case")
            .group_by(col(ComplaintRow.status), col(ComplaintRow.agency_code))
        ).all():
            statuses.add_metric([status, agency or ""], n)
        yield statuses

    def _outbox(self, session: Session, now: datetime) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "dengar_deliveries",
            "Outbox rows by kind (agency, reply), target and state; replies "
            "delivered per channel are the cases' way out.",
            labels=["kind", "target", "state"],
        )
        for kind, target, status, n in session.exec(
            select(
                OutboxRow.kind, OutboxRow.target, OutboxRow.status, func.count()
            ).group_by(
                col(OutboxRow.kind), col(OutboxRow.target), col(OutboxRow.status)
            )
        ).all():
            deliveries.add_metric([kind, target, status], n)
        yield deliveries
        age = GaugeMetricFamily(
            "dengar_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox row, by kind.",
            labels=["kind"],
        )
        for kind, oldest in session.exec(
            select(OutboxRow.kind, func.min(OutboxRow.created_at))
            .where(col(OutboxRow.status).in_((PENDING, IN_FLIGHT)))
            .group_by(col(OutboxRow.kind))
        ).all():
            if oldest is not None:
                age.add_metric([kind], max((now - oldest).total_seconds(), 0.0))
        yield age

    def _channels(self, session: Session) -> Iterator[Metric]:
        failures = GaugeMetricFamily(
            "dengar_channel_consecutive_poll_errors",
            "Polls in a row that failed, per channel (0 when healthy).",
            labels=["channel"],
        )
        up = GaugeMetricFamily(
            "dengar_channel_up",
            "1 when the channel's last poll worked.",
            labels=["channel"],
        )
        last = GaugeMetricFamily(
            "dengar_channel_last_success_timestamp_seconds",
            "When the channel last polled successfully.",
            labels=["channel"],
        )
        for state in session.exec(select(ChannelState)).all():
            failures.add_metric([state.name], state.consecutive_failures)
            healthy = state.consecutive_failures == 0 and not state.disabled_reason
            up.add_metric([state.name], 1.0 if healthy else 0.0)
            if state.last_success_at is not None:
                last.add_metric([state.name], state.last_success_at.timestamp())
        yield failures
        yield up
        yield last

    def _agencies(self, session: Session) -> Iterator[Metric]:
        now = self.ctx.sla_now()
        open_cases = list(
            session.exec(
                select(ComplaintRow).where(
                    ComplaintRow.kind == "case",
                    col(ComplaintRow.status).in_(
                        ("received", "verified", "dispatched", "in_progress")
                    ),
                )
            ).all()
        )
        queue_age = GaugeMetricFamily(
            "dengar_queue_oldest_age_seconds",
            "Age of the oldest open case, per agency ('' = not yet routed).",
            labels=["agency"],
        )
        oldest: dict[str, datetime] = {}
        for case in open_cases:
            code = case.agency_code or ""
            if code not in oldest or case.received_at < oldest[code]:
                oldest[code] = case.received_at
        for agency, at in sorted(oldest.items()):
            queue_age.add_metric([agency], max((now - at).total_seconds(), 0.0))
        yield queue_age
        overdue = GaugeMetricFamily(
            "dengar_cases_overdue",
            "Open cases past their SLA deadline, per agency and clock.",
            labels=["agency", "clock"],
        )
        counts: dict[tuple[str, str], int] = {}
        running = clocks(session, self.ctx.sla, open_cases, now)
        for case in open_cases:
            clock = running.get(case.id or 0)
            if clock is not None and clock.overdue:
                key = (case.agency_code or "", clock.kind)
                counts[key] = counts.get(key, 0) + 1
        for (agency, kind), n in sorted(counts.items()):
            overdue.add_metric([agency, kind], n)
        yield overdue
        status_failures = GaugeMetricFamily(
            "dengar_agency_status_failures",
            "Open cases whose status could not be read from their agency's "
            "system at the last try (http sink with status), per agency.",
            labels=["agency"],
        )
        for agency, n in sorted(failing_counts(session).items()):
            status_failures.add_metric([agency], n)
        yield status_failures


@router.get("/healthz", summary="Liveness and database check")
def healthz(ctx: Ctx) -> Response:
    """200 with ``{"status": "ok"}`` when the database answers, else 503."""
    try:
        with ctx.app.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return JSONResponse(
            {"status": "error", "database": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics", summary="Prometheus metrics")
def metrics(ctx: Ctx) -> Response:
    """Every metric, in the Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DengarCollector(ctx))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
