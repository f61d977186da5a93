"""The ``database`` sink: the agency's queue is a table in Dengar itself
(``agency_queue``), read with ``dengar queue CODE`` or the agency API."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

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

    def _insert(self, delivery: Delivery) -> None:
        with self.sessions() as session:
            exists = session.exec(
                select(AgencyQueueRow.id).where(
                    AgencyQueueRow.idempotency_key == delivery.idempotency_key
                )
            ).first()
            if exists is not None:
                return
            session.add(
                AgencyQueueRow(
                    agency_code=delivery.agency_code,
                    complaint_id=int(delivery.message["dengar_id"]),
                    idempotency_key=delivery.idempotency_key,
                    message=json.dumps(delivery.message, ensure_ascii=False),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                # a concurrent worker queued the same key first: that is success
                session.rollback()
            except Exception as exc:
                raise RetriableDeliveryError(f"database write failed: {exc}") from exc

    async def close(self) -> None:
        """Nothing to release: sessions are per delivery."""
