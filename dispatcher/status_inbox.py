"""Read the status messages an agency's system sends back (AMQP or Redis),
or ask its system for them (``http`` sink with ``status``: see
``dispatcher.status_poll``).

An agency whose sink has ``status_queue`` (amqp) or ``status_stream`` (redis)
reports progress there with the JSON of :func:`apply_status_message`. Each
message is applied in a session of its own, committed, and only then acked:
a crash between the two re-delivers it, and the repeat is a no-op.

A message that cannot be applied (not JSON, unknown case, a transition that is
not allowed…) is set aside with its reason, never retried and never lost:

* AMQP: rejected without requeue into ``<queue>.dead`` (the queue's
  dead-letter target, both declared here); the reason is logged.
* Redis: the entry (field ``message``, as the redis sink writes) is copied to
  ``<stream>:dead`` with a ``reason`` field, then acked. Entries pending
  longer than ``RECLAIM_IDLE_MS`` (a reader crashed) are reclaimed first.

Any other error (database down) leaves the message unacked for a later run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aio_pika
import aiormq
import redis.asyncio as aioredis
from aio_pika.exceptions import AMQPError
from redis.exceptions import RedisError, ResponseError
from sqlmodel import Session

from config.settings import AgencySettings, Settings
from config.sink_settings import AmqpSinkSettings, RedisSinkSettings
from dispatcher.sinks.amqp import safe_amqp_url, without_secrets
from dispatcher.sinks.base import Sink
from dispatcher.status import AuditTrail, StatusMessageError, apply_status_message
from dispatcher.status_poll import poll_once, status_settings
from storage.tables import ComplaintRow

log = logging.getLogger(__name__)

GROUP = "dengar"
CONSUMER = "dengar"
RECLAIM_IDLE_MS = 60_000
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
_AMQP_ERRORS = (AMQPError, aiormq.exceptions.AMQPError, OSError)  # OSError: timeouts


class StatusInboxError(RuntimeError):
    """The agency's queue or stream could not be read (no secrets inside)."""


class _Notifier(Protocol):
    def notify(self, session: Session, row: ComplaintRow, text: str) -> bool: ...


class AppLike(AuditTrail, Protocol):
    """What :func:`consume_once` needs of :class:`dengar.app.App`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> Callable[[], Session]: ...

    @property
    def pipeline(self) -> _Notifier: ...

    @property
    def sinks(self) -> Mapping[str, Sink]: ...


@dataclass
class InboxSummary:
    """What one :func:`consume_once` did."""

    applied: int = 0  # a status change recorded
    repeated: int = 0  # a re-delivery of a change already recorded
    dead: int = 0  # set aside with its reason
    reclaimed: int = 0  # redis: taken over from a reader that crashed
    failed: int = 0  # http: the agency's system could not be read; nothing changed

    @property
    def handled(self) -> int:
        """Messages acked in this run."""
        return self.applied + self.repeated + self.dead


def has_status_inbox(agency: AgencySettings) -> bool:
    """True when the agency's sink names a status queue or stream, or says
    how to ask its system (``http`` with ``status``)."""
    if status_settings(agency) is not None:
        return True
    sink = agency.sink
    if isinstance(sink, AmqpSinkSettings):
        return sink.status_queue is not None
    return isinstance(sink, RedisSinkSettings) and sink.status_stream is not None


async def consume_once(
    app_like: AppLike,
    agency: AgencySettings,
    *,
    max_messages: int = 100,
    wait_seconds: float = 1.0,
) -> InboxSummary:
    """Apply up to ``max_messages`` status messages from ``agency``'s inbox.

    Returns once ``max_messages`` were handled or none arrived within
    ``wait_seconds``. Raises :class:`StatusInboxError` when the broker cannot
    be reached, ``ValueError`` when the agency has no status queue or stream;
    a database error propagates and leaves its message unacked.
    """
    if max_messages < 1:
        raise ValueError("max_messages must be at least 1")
    sink = agency.sink
    if isinstance(sink, AmqpSinkSettings) and sink.status_queue:
        return await _consume_amqp(
            app_like, agency, sink, sink.status_queue, max_messages, wait_seconds
        )
    if isinstance(sink, RedisSinkSettings) and sink.status_stream:
        return await _consume_redis(
            app_like, agency, sink, sink.status_stream, max_messages, wait_seconds
        )
    if status_settings(agency) is not None:
        # asked, not read: only the cases due (per ``status.interval``)
        polled = await poll_once(app_like, agency)
        return InboxSummary(
            applied=polled.applied, repeated=polled.unchanged, failed=polled.failed
        )
    raise ValueError(f"agency {agency.code} has no status queue or stream")


def _apply(
    app: AppLike, agency: AgencySettings, body: bytes | str, summary: InboxSummary
) -> None:
    """Apply and commit one message (raises StatusMessageError), count it."""
    with app.sessions() as session:

        def notify(row: ComplaintRow, text: str) -> None:
            app.pipeline.notify(session, row, text)  # an outbox row, same commit

        event = apply_status_message(
            session,
            body,
            agency_code=agency.code,
            tracking_prefix=app.settings.tracking_prefix,
            notify=notify,
            trail=app,
        )
        session.commit()
    if event is None:
        summary.repeated += 1
    else:
        summary.applied += 1


async def _consume_amqp(
    app: AppLike,
    agency: AgencySettings,
    sink: AmqpSinkSettings,
    name: str,
    max_messages: int,
    wait_seconds: float,
) -> InboxSummary:
    summary = InboxSummary()
    where = f"amqp {safe_amqp_url(sink.url.get_secret_value())} queue {name!r}"
    try:
        connection = await aio_pika.connect(
            sink.url.get_secret_value(), timeout=CONNECT_TIMEOUT
        )
    except _AMQP_ERRORS as exc:
        raise _amqp_error(where, exc) from None
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1)
        await channel.declare_queue(f"{name}.dead", durable=True)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{name}.dead",
            },
        )
        # a timeout of 0 would wait for ever
        async with queue.iterator(timeout=max(wait_seconds, 0.01)) as messages:
            while summary.handled < max_messages:
                try:
                    message = await anext(messages)
                except TimeoutError:
                    break  # nothing more within wait_seconds
                try:
                    _apply(app, agency, message.body, summary)
                except StatusMessageError as exc:
                    log.warning(
                        "%s: message %s set aside in %s.dead: %s",
                        where,
                        message.message_id or message.delivery_tag,
                        name,
                        exc,
                    )
                    await message.reject(requeue=False)
                    summary.dead += 1
                else:
                    await message.ack()
    except _AMQP_ERRORS as exc:
        raise _amqp_error(where, exc) from None
    finally:
        # bounded: a broker that stopped answering would never close-ok
        with contextlib.suppress(*_AMQP_ERRORS):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)
    return summary


def _amqp_error(where: str, exc: BaseException) -> StatusInboxError:
    return StatusInboxError(f"{where}: {type(exc).__name__}: {without_secrets(exc)}")


async def _consume_redis(
    app: AppLike,
    agency: AgencySettings,
    sink: RedisSinkSettings,
    stream: str,
    max_messages: int,
    wait_seconds: float,
) -> InboxSummary:
    summary = InboxSummary()
    client: aioredis.Redis = aioredis.Redis.from_url(
        sink.url.get_secret_value(),
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT + wait_seconds,
    )
    try:
        try:
            await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        claimed: Any = await client.xautoclaim(
            stream, GROUP, CONSUMER, RECLAIM_IDLE_MS, "0-0", count=max_messages
        )
        entries: list[tuple[Any, Any]] = list(claimed[1])
        summary.reclaimed = len(entries)
        if len(entries) < max_messages:
            read: Any = await client.xreadgroup(
                GROUP,
                CONSUMER,
                {stream: ">"},
                count=max_messages - len(entries),
                block=max(1, int(wait_seconds * 1000)),
            )
            for _name, new in read or []:
                entries.extend(new)
        for entry_id, fields in entries:
            await _handle_entry(app, agency, client, stream, entry_id, fields, summary)
    except RedisError as exc:
        # redis-py's messages name host and port, never the password
        raise StatusInboxError(
            f"redis stream {stream}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        await client.aclose()
    return summary


async def _handle_entry(
    app: AppLike,
    agency: AgencySettings,
    client: aioredis.Redis,
    stream: str,
    entry_id: Any,
    fields: dict[bytes, bytes] | None,
    summary: InboxSummary,
) -> None:
    reason: str | None = None
    if fields is None:  # trimmed away while pending: nothing left to apply
        await client.xack(stream, GROUP, entry_id)
        return
    body = fields.get(b"message")
    if body is None:
        reason = "the entry has no 'message' field"
    else:
        try:
            _apply(app, agency, body, summary)
        except StatusMessageError as exc:
            reason = str(exc)
    if reason is None:
        await client.xack(stream, GROUP, entry_id)
        return
    log.warning("redis stream %s: entry %r set aside: %s", stream, entry_id, reason)
    dead: dict[Any, Any] = {**fields, b"reason": reason, b"entry_id": entry_id}
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(f"{stream}:dead", dead)
        pipe.xack(stream, GROUP, entry_id)
        await pipe.execute()
    summary.dead += 1
