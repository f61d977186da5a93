"""The ``redis`` sink: each case is an entry of the agency's Redis stream.

``XADD <stream> MAXLEN ~ <maxlen> * idempotency_key <key> message <json> type
<event type>``, with ``<stream>`` = ``settings.stream`` or ``dengar:<CODE>``
and the type the webhook's CloudEvents carry
(``id.go.<regency>.dengar.complaint.dispatched``, or ``….redacted``: remove
the reporter's identity from a case sent earlier; docs/dispatch.md). The
agency reads it with a consumer group (``XREADGROUP``/``XACK``).

A re-send after a crash would add a second entry; to avoid it the add runs in
a Lua script that first looks for ``<stream>:sent:<key>`` (kept for
``SENT_TTL`` seconds) and returns the earlier entry id instead, so a repeat
is a no-op inside Redis. Consumers should still ignore a key they have seen:
the marker expires, and a stream trimmed by MAXLEN forgets nothing of it.

Every Redis error is retriable: connection loss, timeouts and also error
replies such as OOM, which go away when the server recovers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from config.settings import AgencySettings
from config.sink_settings import RedisSinkSettings
from contracts.errors import RetriableDeliveryError
from dispatcher.sinks.base import Delivery, SinkContext, event_type, settings_of

SENT_TTL = 7 * 24 * 3600
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0
MAX_CONNECTIONS = 16

# KEYS[1] stream, KEYS[2] sent marker; ARGV[1] key, ARGV[2] message,
# ARGV[3] maxlen ("" for none), ARGV[4] marker ttl, ARGV[5] event type
_ADD_ONCE = """
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
local id
if ARGV[3] == '' then
  id = redis.call('XADD', KEYS[1], '*',
                  'idempotency_key', ARGV[1], 'message', ARGV[2], 'type', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
                  'idempotency_key', ARGV[1], 'message', ARGV[2], 'type', ARGV[5])
end
redis.call('SET', KEYS[2], id, 'EX', ARGV[4])
return id
"""


def stream_name(agency: AgencySettings, settings: RedisSinkSettings) -> str:
    """The stream an agency reads: configured, or ``dengar:<CODE>``."""
    return settings.stream or f"dengar:{agency.code}"


class RedisSink:
    """Adds each delivery once to the agency's Redis stream."""

    def __init__(self, agency: AgencySettings, context: SinkContext) -> None:
        settings = settings_of(agency, RedisSinkSettings)
        self.agency = agency
        self.settings = settings
        self.regency = context.regency
        self.stream = stream_name(agency, settings)
        # The outbox delivers a whole batch at once: a blocking pool makes
        # the surplus wait for a connection instead of failing with
        # "Too many connections".
        self._pool = aioredis.BlockingConnectionPool.from_url(
            settings.url.get_secret_value(),
            max_connections=MAX_CONNECTIONS,
            timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            decode_responses=True,
        )
        self._client: aioredis.Redis = aioredis.Redis(connection_pool=self._pool)
        self._script: Any = self._client.register_script(_ADD_ONCE)

    def __repr__(self) -> str:
        return f"RedisSink(agency={self.agency.code!r}, stream={self.stream!r})"

    async def deliver(self, delivery: Delivery) -> None:
        """Add the message to the stream unless this key was already added."""
        await self.add(delivery)

    async def add(self, delivery: Delivery) -> str:
        """Like :meth:`deliver`, returning the stream entry id (the earlier
        one for a repeat)."""
        try:
            entry_id = await self._script(*self._call(delivery))
        except RedisError as exc:
            raise self._error(exc) from None
        return str(entry_id)

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        """Add every message in one pipeline (one round trip, no MULTI: each
        add is its own atomic script); per delivery, None once Redis answered
        with its entry id, else the retriable error."""
        pipe = self._client.pipeline(transaction=False)
        for delivery in deliveries:
            keys, args = self._call(delivery)
            await self._script(keys=keys, args=args, client=pipe)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            error = self._error(exc)
            return [error] * len(deliveries)
        return [
            self._error(reply) if isinstance(reply, Exception) else None
            for reply in replies
        ]

    def _call(self, delivery: Delivery) -> tuple[list[str], list[str | int]]:
        message = json.dumps(delivery.message, ensure_ascii=False, sort_keys=True)
        maxlen = "" if self.settings.maxlen is None else str(self.settings.maxlen)
        return (
            [self.stream, f"{self.stream}:sent:{delivery.idempotency_key}"],
            [
                delivery.idempotency_key,
                message,
                maxlen,
                SENT_TTL,
                event_type(self.regency, delivery.event),
            ],
        )

    def _error(self, exc: Exception) -> RetriableDeliveryError:
        # redis-py's messages name host and port, never the password
        return RetriableDeliveryError(
            f"redis stream {self.stream}: {type(exc).__name__}: {exc}"
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
        await self._pool.disconnect()
