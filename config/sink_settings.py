"""Settings of each agency sink type, discriminated by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from config.common import Seconds, SmtpSettings, StrictModel
from config.http_parts import (
    BodyTemplate,
    ContentType,
    DeliveryTemplate,
    HeaderTemplates,
    HttpAuth,
    HttpRedactionSettings,
    HttpStatusSettings,
    Locator,
    check_body,
)

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


class HttpSinkSettings(SinkBase):
    """Any agency system over HTTP (SP4N-LAPOR!, a ticket system, a letter
    registry): the request is rendered from templates, the remote id read
    from the answer, and the case's status optionally read back."""

    type: Literal["http"]
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    url: DeliveryTemplate = Field(
        min_length=1, description="template; must give an http(s) URL"
    )
    headers: HeaderTemplates = Field(default_factory=dict)
    content_type: ContentType = "json"
    body: BodyTemplate = Field(
        default=None,
        description="template of the body, or for content_type form a mapping "
        "of field name to template",
    )
    auth: HttpAuth | None = None
    response_id: Locator | None = Field(
        default=None, description="where the remote system's id is in its answer"
    )
    status: HttpStatusSettings | None = None
    redaction: HttpRedactionSettings | None = Field(
        default=None,
        description="how to ask the system to remove the reporter's identity "
        "from a case made confidential after it was sent; without it such a "
        "redaction is dead, for staff to pass on by other means",
    )
    timeout: Seconds = 10.0
    concurrency: int = Field(default=4, ge=1, le=100)

    @field_validator("body")
    @classmethod
    def _body_renders(
        cls, body: str | dict[str, str] | None, info: ValidationInfo
    ) -> str | dict[str, str] | None:
        check_body(body, info.data.get("content_type", "json"))
        return body


SinkSettings = Annotated[
    DatabaseSinkSettings
    | WebhookSinkSettings
    | EmailSinkSettings
    | AmqpSinkSettings
    | RedisSinkSettings
    | HttpSinkSettings,
    Field(discriminator="type"),
]
