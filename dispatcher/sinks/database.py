"""The ``database`` sink: the agency's queue is a table in Dengar itself
(``agency_queue``), read with ``dengar queue CODE`` or the agency API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from config.settings import AgencySettings
from dispatcher.sinks.base import Delivery, RetriableDeliveryError, SinkContext
from storage.tables import AgencyQueueRow


class DatabaseSink:
    """Writes each delivery once into ``agency_queue`` (idempotency key unique)."""

    def __init__(self, agency: AgencySettings, context: SinkContext) -> None:
        self.agency = agency
        self.sessions = context.sessions

    def __repr__(self) -> str:
        return f"DatabaseSink(agency={self.agency.code!r})"

    async def deliver(self, delivery: Delivery) -> None:
        """Insert the message unless that idempotency key is already queued."""
        await asyncio.to_thread(self._insert, delivery)

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        """Queue the whole batch in one transaction; all or none is taken."""
        try:
            await asyncio.to_thread(self._insert_many, deliveries)
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
            session.add_all(self._row(d) for d in fresh.values())
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
            except Exception as exc:
                raise RetriableDeliveryError(f"database write failed: {exc}") from exc
            else:
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
            try:
                session.commit()
            except IntegrityError:
                # a concurrent worker queued the same key first: that is success
                session.rollback()
            except Exception as exc:
                raise RetriableDeliveryError(f"database write failed: {exc}") from exc

    def _row(self, delivery: Delivery) -> AgencyQueueRow:
        return AgencyQueueRow(
            agency_code=delivery.agency_code,
            complaint_id=int(delivery.message["dengar_id"]),
            idempotency_key=delivery.idempotency_key,
            message=json.dumps(delivery.message, ensure_ascii=False),
        )

    async def close(self) -> None:
        """Nothing to release: sessions are per delivery."""
