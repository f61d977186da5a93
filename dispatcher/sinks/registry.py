"""Sink types by name (``sink.type`` of an agency), resolved lazily (a
missing broker client only breaks its own sink). Adding a sink is one line
here (see docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from contracts.registry import resolve
from dispatcher.sinks.base import Sink, SinkContext

SINK_TYPES: dict[str, str] = {
    "database": "dispatcher.sinks.database:DatabaseSink",
    "webhook": "dispatcher.sinks.webhook:WebhookSink",
    "email": "dispatcher.sinks.email:EmailSink",
    "amqp": "dispatcher.sinks.amqp:AmqpSink",
    "redis": "dispatcher.sinks.redis:RedisSink",
    "http": "dispatcher.sinks.http:HttpSink",
}


def build_sink(agency: Any, context: SinkContext) -> Sink:
    """The sink for an agency's settings (``agency.sink.type``)."""
    sink: Sink = resolve(SINK_TYPES, agency.sink.type, "sink")(agency, context)
    return sink
