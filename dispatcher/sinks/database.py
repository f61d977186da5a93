"""The ``database`` sink: the agency's queue is a table in Dengar itself
(``agency_queue``), read with ``dengar queue CODE`` or the agency API.

A ``redacted`` event (the case became confidential after it was queued) is
not queued beside the case: it rewrites the case's queued messages for that
agency, so that no copy with the identity stays in the queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session, col, select

from config.settings import AgencySettings
from contracts.errors import RetriableDeliveryError
from dispatcher.message import DISPATCHED, REDACTED
from dispatcher.sinks.base import Delivery, SinkContext
from storage.tables import AgencyQueueRow, utcnow

StepArg = TypeVar("StepArg", Delivery, Sequence[Delivery])


class DatabaseSink:
    """Writes each delivery once into ``agency_queue`` (idempotency key unique)."""

    def __init__(self, agency: AgencySettings, context: SinkContext) -> None:
        self.agency = agency
        self.sessions = context.sessions

    def __repr__(self) -> str:
        return f"DatabaseSink(agency={self.agency.code!r})"

    async def deliver(self, delivery: Delivery) -> None:
        """Insert the message unless that idempotency key is already queued
        (a redaction rewrites the queued messages of its case instead)."""
        if delivery.event == REDACTED:
            await _off_loop(self._rewrite, delivery)
            return
        await _off_loop(self._insert, delivery)

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        """Queue the whole batch in one transaction; all or none is taken."""
        if any(d.event == REDACTED for d in deliveries):
            # rare: one by one, each its own outcome
            outcomes: list[Exception | None] = []
            for delivery in deliveries:
                try:
                    await self.deliver(delivery)
                except RetriableDeliveryError as exc:
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
            return outcomes
        try:
            await _off_loop(self._insert_many, deliveries)
        except RetriableDeliveryError as exc:
            return [exc] * len(deliveries)
        return [None] * len(deliveries)

    def _insert_many(self, deliveries: Sequence[Delivery]) -> None:
        with self.sessions() as session:
            keys = [d.idempotency_key for d in deliveries]
            queued = set(
                session.exec(
                    select(AgencyQueueRow.idempotency_key).where(
                        col(AgencyQueueRow.idempotency_key).in_(keys)
                    )
                )
            )
            fresh: dict[str, Delivery] = {}
            for delivery in deliveries:
                if delivery.idempotency_key not in queued:
                    fresh.setdefault(delivery.idempotency_key, delivery)
            # one executemany, no ORM rows: nothing reads them back, and an
            # ORM flush on SQLite inserts row by row (RETURNING each id)
            # after building a model object per row
            try:
                if fresh:
                    now = utcnow()
                    session.execute(
                        insert(AgencyQueueRow.__table__),  # type: ignore[attr-defined]
                        [self._values(d, now) for d in fresh.values()],
                    )
            except IntegrityError:
                session.rollback()
            except Exception as exc:
                raise RetriableDeliveryError(f"database write failed: {exc}") from exc
            else:
                if _committed(session):
                    return
        # a concurrent worker queued one of these keys first: take the rest
        # one by one, each of which sees that key as already queued
        for delivery in deliveries:
            self._insert(delivery)

    def _insert(self, delivery: Delivery) -> None:
        with self.sessions() as session:
            exists = session.exec(
                select(AgencyQueueRow.id).where(
                    AgencyQueueRow.idempotency_key == delivery.idempotency_key
                )
            ).first()
            if exists is not None:
                return
            session.add(self._row(delivery))
            # not committed: a concurrent worker queued the key first, success
            _committed(session)

    def _rewrite(self, delivery: Delivery) -> None:
        # the queued copies take the case as it now is; the redaction itself
        # is kept in the message so the agency can see why it changed
        message = dict(delivery.message)
        message["event"] = DISPATCHED
        message["redaction"] = delivery.message.get("redaction")
        with self.sessions() as session:
            queued = session.exec(
                select(AgencyQueueRow).where(
                    AgencyQueueRow.complaint_id == int(message["dengar_id"]),
                    AgencyQueueRow.agency_code == delivery.agency_code,
                )
            ).all()
            for row in queued:
                message["idempotency_key"] = row.idempotency_key
                row.message = json.dumps(message, ensure_ascii=False)
                session.add(row)
            try:
                session.commit()
            except Exception as exc:
                raise RetriableDeliveryError(f"database write failed: {exc}") from exc

    def _row(self, delivery: Delivery) -> AgencyQueueRow:
        return AgencyQueueRow(
            agency_code=delivery.agency_code,
            complaint_id=int(delivery.message["dengar_id"]),
            idempotency_key=delivery.idempotency_key,
            message=json.dumps(delivery.message, ensure_ascii=False),
        )

    @staticmethod
    def _values(delivery: Delivery, now: datetime) -> dict[str, object]:
        """The columns of ``_row`` for a Core insert."""
        return {
            "agency_code": delivery.agency_code,
            "complaint_id": int(delivery.message["dengar_id"]),
            "idempotency_key": delivery.idempotency_key,
            "message": json.dumps(delivery.message, ensure_ascii=False),
            "enqueued_at": now,
            "acknowledged_at": None,
        }

    async def close(self) -> None:
        """Nothing to release: sessions are per delivery."""


async def _off_loop(step: Callable[[StepArg], None], arg: StepArg) -> None:
    """Run a database step in a thread. A database that went away (at any
    statement, the first read included) is retriable: the worker then
    records the outage in one line and tries again, no traceback."""
    try:
        await asyncio.to_thread(step, arg)
    except (OperationalError, InterfaceError) as exc:
        raise RetriableDeliveryError(
            f"database unavailable: {exc.orig or exc}"
        ) from exc


def _committed(session: Session) -> bool:
    """Commit the queued rows; False (rolled back) when a concurrent worker
    queued one of the same idempotency keys first, a retriable error when the
    database failed."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    except Exception as exc:
        raise RetriableDeliveryError(f"database write failed: {exc}") from exc
    return True
