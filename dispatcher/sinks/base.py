"""The contract between the outbox and an agency's queue.

A sink delivers one message and returns, or raises:

- ``RetriableDeliveryError``: the target is down, timed out, said 5xx/429 or
  did not confirm; the outbox retries with backoff (``retry_after`` seconds
  overrides it when the target says when).
- ``PermanentDeliveryError``: the target refused the message (4xx); retrying
  the same message cannot help, so the row goes to ``dead`` with ``detail``.

Sinks never retry or sleep themselves: the outbox does.

A sink may also offer ``deliver_many`` (:class:`BatchSink`) to hand a whole
batch over at once (a Redis pipeline, AMQP publishes sharing one wait for
their confirms, one database transaction); it answers per delivery, so each
row's outcome is still its own. :func:`deliver_batch` uses it when present.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from config.settings import DEFAULT_REGENCY, AgencySettings

SettingsT = TypeVar("SettingsT")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one agency.

    ``message`` follows ``docs/schema/agency-message.v1.json``, with the
    case's confidentiality already applied. ``attachments`` carries the
    bytes of files the agency may see, keyed by sha256, for sinks that send
    files (email); the others reference them by hash. ``event`` is
    ``dispatched`` (a case) or ``redacted`` (remove the reporter's identity
    from a case received earlier), as in ``message["event"]``.
    """

    idempotency_key: str
    agency_code: str
    message: dict[str, Any]
    attachments: dict[str, bytes] = field(default_factory=dict)
    event: str = "dispatched"


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink may need from Dengar besides its own settings."""

    sessions: sessionmaker[Session]
    # the configured ``regency``, for event types: id.go.<regency>.dengar…
    regency: str = DEFAULT_REGENCY
    timezone: str = "Asia/Makassar"  # times in messages people read


@runtime_checkable
class Sink(Protocol):
    """An agency's queue."""

    async def deliver(self, delivery: Delivery) -> str | None:
        """Hand ``delivery`` over; return only once the target has accepted
        it, with the id the target gave it (its ticket number) if it gives
        one, else None."""

    async def close(self) -> None:
        """Release connections."""


@runtime_checkable
class BatchSink(Sink, Protocol):
    """A sink that can take many deliveries in one go."""

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> Sequence[Exception | str | None]:
        """Hand every delivery over; per delivery, in order, what
        :meth:`Sink.deliver` would return (accepted) or raise."""


async def deliver_batch(
    sink: Sink, deliveries: Sequence[Delivery]
) -> list[Exception | str | None]:
    """Deliver all of ``deliveries`` through ``sink``, concurrently or in one
    batch; the outcome of each, in order (an exception for a failure, else
    accepted, with the target's id for it or None)."""
    if not deliveries:
        return []
    if isinstance(sink, BatchSink):
        answers = list(await sink.deliver_many(deliveries))
        if len(answers) != len(deliveries):
            raise RuntimeError(
                f"{sink!r} answered {len(answers)} of {len(deliveries)} deliveries"
            )
        return answers
    results = await asyncio.gather(
        *(sink.deliver(d) for d in deliveries), return_exceptions=True
    )
    outcomes: list[Exception | str | None] = []
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation and the like are not delivery outcomes
        outcomes.append(result)
    return outcomes


def event_type(regency: str, event: str = "dispatched") -> str:
    """The type of an event for ``regency``, the same on every sink that
    names it (CloudEvents ``type``, AMQP ``type``, Redis ``type`` field):
    ``id.go.<regency>.dengar.complaint.<event>``."""
    return f"id.go.{regency}.dengar.complaint.{event}"


def settings_of(agency: AgencySettings, kind: type[SettingsT]) -> SettingsT:
    """``agency``'s sink settings, which a sink's constructor needs as its own
    ``kind``; a TypeError when the agency delivers through another sink type
    (the registry handed it to the wrong class)."""
    settings = agency.sink
    if not isinstance(settings, kind):
        raise TypeError(
            f"agency {agency.code}: a {settings.type} sink, not {kind.__name__}"
        )
    return settings
