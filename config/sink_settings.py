"""Settings of each agency sink type, discriminated by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from config.common import Seconds, SmtpSettings, StrictModel

_CONCURRENCY = (
    "deliveries in flight at once; a crash (SIGKILL) re-sends at most this "
    "many, each with its idempotency key"
)


class SinkBase(StrictModel):
    """What every sink has: how hard to try before a delivery is dead, and how
    many deliveries may be in flight (handed over, outcome not yet recorded)."""

    max_attempts: int = Field(default=10, ge=1, le=100)
    # batch sinks hand a whole outbox batch over at once (one pipeline, one
    # wait for confirms, one transaction)
    concurrency: int = Field(default=100, ge=1, le=1000, description=_CONCURRENCY)


class DatabaseSinkSettings(SinkBase):
    """The agency reads its queue from Dengar's own database."""

    type: Literal["database"] = "database"


class WebhookSinkSettings(SinkBase):
    """HTTPS POST of a CloudEvents envelope, signed with HMAC-SHA256."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    timeout: Seconds = 10.0
    concurrency: int = Field(
        default=8,
        ge=1,
        le=100,
        description="requests in flight at once (connections kept open); a "
        "crash (SIGKILL) re-sends at most this many, each with its idempotency key",
    )


class EmailSinkSettings(SinkBase):
    """A readable email to the agency's address."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    smtp: SmtpSettings
    concurrency: int = Field(default=4, ge=1, le=100, description=_CONCURRENCY)


class AmqpSinkSettings(SinkBase):
    """RabbitMQ with publisher confirms."""

    type: Literal["amqp"]
    url: SecretStr
    exchange: str = "dengar"
    routing_key: str | None = Field(
        default=None, description="default: the agency code in lower case"
    )
    status_queue: str | None = Field(
        default=None,
        min_length=1,
        description="a durable queue (declared by Dengar, dead letters to "
        "'<queue>.dead') on which the agency sends status messages back",
    )


class RedisSinkSettings(SinkBase):
    """Redis Streams: XADD to a per-agency stream."""

    type: Literal["redis"]
    url: SecretStr
    stream: str | None = Field(default=None, description="default: dengar:<CODE>")
    maxlen: int | None = Field(default=100_000, ge=1)
    status_stream: str | None = Field(
        default=None,
        min_length=1,
        description="a stream (read with the consumer group 'dengar', dead "
        "letters to '<stream>:dead') on which the agency sends status messages",
    )


SinkSettings = Annotated[
    DatabaseSinkSettings
    | WebhookSinkSettings
    | EmailSinkSettings
    | AmqpSinkSettings
    | RedisSinkSettings,
    Field(discriminator="type"),
]
