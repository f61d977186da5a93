"""The ``amqp`` sink: publish each case to RabbitMQ with publisher confirms.

The message goes to ``settings.exchange`` (declared durable, type topic) with
routing key ``settings.routing_key`` or the agency code in lower case. It is
persistent, JSON, its AMQP ``type`` is the event type the webhook uses
(``id.go.<regency>.dengar.complaint.dispatched``, or ``….redacted`` for a
request to remove the reporter's identity from a case sent earlier; see
docs/dispatch.md), and its AMQP ``message_id`` is the idempotency key: a
consumer that sees an id again (we re-send after a crash between the broker's
confirm and our record of it) must treat it as a duplicate.

A delivery counts only when the broker confirmed it. It is retried when the
broker nacks it (e.g. a full queue with ``x-overflow: reject-publish``), when
no queue is bound for the routing key (published ``mandatory``, so an
unrouted case is not silently dropped), when the confirm does not come within
``confirm_timeout`` (``CONFIRM_TIMEOUT`` by default), and on any connection
error. The connection is robust
(it reconnects by itself) and opened lazily, so a broker that is down at
start only delays deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, DeliveryError, PublishError

from config.settings import AgencySettings
from config.sink_settings import AmqpSinkSettings
from contracts.errors import RetriableDeliveryError
from dispatcher.sinks.base import Delivery, SinkContext, event_type, settings_of

# aiormq says "<Connection …> closed" with a RuntimeError while the robust
# connection is reconnecting; the next attempt finds it up
_CONNECTION_ERRORS = (AMQPError, aiormq.exceptions.AMQPError, OSError, RuntimeError)
# after these the channel is in an unknown state (a confirm went missing, or
# the connection under it broke): the next delivery opens a fresh one
_CHANNEL_LOST = (TimeoutError, *_CONNECTION_ERRORS)

CONNECT_TIMEOUT = 10.0
CONFIRM_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s]*@", re.IGNORECASE)


def routing_key_of(agency: AgencySettings, settings: AmqpSinkSettings) -> str:
    """The routing key: configured, or the agency code in lower case."""
    return settings.routing_key or agency.code.lower()


def safe_amqp_url(url: str) -> str:
    """``amqp://host:port/vhost`` without user and password, for messages."""
    return _USERINFO.sub(r"\1", url).split("?", 1)[0]


class AmqpSink:
    """Publishes each delivery to the agency's exchange and waits for the confirm."""

    def __init__(
        self,
        agency: AgencySettings,
        context: SinkContext,
        *,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ) -> None:
        settings = settings_of(agency, AmqpSinkSettings)
        self.agency = agency
        self.settings = settings
        self.regency = context.regency
        self.routing_key = routing_key_of(agency, settings)
        self.confirm_timeout = confirm_timeout
        self._where = safe_amqp_url(settings.url.get_secret_value())
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"AmqpSink(agency={self.agency.code!r}, broker={self._where!r}, "
            f"exchange={self.settings.exchange!r}, routing_key={self.routing_key!r})"
        )

    async def _ready_exchange(self) -> AbstractExchange:
        async with self._lock:
            if self._exchange is not None and not self._channel_closed():
                return self._exchange
            if self._connection is None or self._connection.is_closed:
                self._connection = await aio_pika.connect_robust(
                    self.settings.url.get_secret_value(), timeout=CONNECT_TIMEOUT
                )
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._channel.declare_exchange(
                self.settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            return self._exchange

    def _channel_closed(self) -> bool:
        return self._channel is None or self._channel.is_closed

    async def deliver(self, delivery: Delivery) -> None:
        """Publish and return once the broker confirmed the message."""
        (error,) = await self.deliver_many([delivery])
        if error is not None:
            raise error

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        """Publish every message at once on one channel, then wait for all
        the confirms together; per delivery, None only once the broker
        confirmed that very message, else the retriable error."""
        try:
            exchange = await self._ready_exchange()
        except _CONNECTION_ERRORS as exc:
            await self._forget_channel()
            return [self._connection_error(exc)] * len(deliveries)
        replies = await asyncio.gather(
            *(
                exchange.publish(
                    self._message(delivery),
                    routing_key=self.routing_key,
                    mandatory=True,
                    timeout=self.confirm_timeout,
                )
                for delivery in deliveries
            ),
            return_exceptions=True,
        )
        errors = [self._error(reply) for reply in replies]
        if any(
            isinstance(reply, _CHANNEL_LOST)
            and not isinstance(reply, PublishError | DeliveryError)
            for reply in replies
        ):
            await self._forget_channel()
        return errors

    def _message(self, delivery: Delivery) -> aio_pika.Message:
        body = json.dumps(delivery.message, ensure_ascii=False, sort_keys=True)
        return aio_pika.Message(
            body=body.encode(),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=delivery.idempotency_key,
            timestamp=datetime.now(UTC),
            type=event_type(self.regency, delivery.event),
            app_id="dengar",
            headers={
                "agency": delivery.agency_code,
                "schema_version": delivery.message.get("schema_version", 1),
            },
        )

    def _error(self, reply: object) -> Exception | None:
        where = f"{self._where} exchange {self.settings.exchange!r}"
        if not isinstance(reply, BaseException):
            return None
        if isinstance(reply, PublishError):
            return RetriableDeliveryError(
                f"amqp {where}: no queue is bound for routing key "
                f"{self.routing_key!r}; the case was not taken"
            )
        if isinstance(reply, DeliveryError):
            return RetriableDeliveryError(
                f"amqp {where}: the broker refused the message (nack)"
            )
        if isinstance(reply, TimeoutError):
            return RetriableDeliveryError(
                f"amqp {where}: no confirm within {self.confirm_timeout:g}s"
            )
        if isinstance(reply, _CONNECTION_ERRORS):
            return self._connection_error(reply)
        if isinstance(reply, Exception):
            return reply  # not a broker answer: the worker logs it as a bug
        raise reply  # cancellation and the like are not delivery outcomes

    def _connection_error(self, exc: BaseException) -> RetriableDeliveryError:
        where = f"{self._where} exchange {self.settings.exchange!r}"
        return RetriableDeliveryError(
            f"amqp {where}: {type(exc).__name__}: {without_secrets(exc)}"
        )

    async def _forget_channel(self) -> None:
        # A channel whose confirm went missing is in an unknown state: the
        # next delivery opens a fresh one (the robust connection stays).
        channel, self._channel, self._exchange = self._channel, None, None
        if channel is not None and not channel.is_closed:
            # bounded: a broker that stopped answering would never close-ok
            with contextlib.suppress(
                AMQPError, aiormq.exceptions.AMQPError, OSError, TimeoutError
            ):
                await asyncio.wait_for(channel.close(), CLOSE_TIMEOUT)
        if self._connection is not None and self._connection.is_closed:
            self._connection = None

    async def close(self) -> None:
        """Close the channel and the connection."""
        self._channel = self._exchange = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(
                AMQPError, aiormq.exceptions.AMQPError, OSError, TimeoutError
            ):
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)


def without_secrets(exc: BaseException) -> str:
    # aiormq puts the URL, credentials included, into some connection errors
    return _USERINFO.sub(r"\1", str(exc))[:500]
