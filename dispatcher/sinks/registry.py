"""Sink types by name, resolved lazily (a missing broker client only breaks
its own sink)."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from dispatcher.sinks.base import Sink, SinkContext

SINK_TYPES: dict[str, str] = {
    "database": "dispatcher.sinks.database:DatabaseSink",
    "webhook": "dispatcher.sinks.webhook:WebhookSink",
    "email": "dispatcher.sinks.email:EmailSink",
    "amqp": "dispatcher.sinks.amqp:AmqpSink",
    "redis": "dispatcher.sinks.redis:RedisSink",
    "http": "dispatcher.sinks.http:HttpSink",
}


class UnknownSinkType(LookupError):
    """No sink of that type is known."""


def build_sink(agency: Any, context: SinkContext) -> Sink:
    """The sink for an agency's settings (``agency.sink.type``)."""
    type_name = agency.sink.type
    try:
        target = SINK_TYPES[type_name]
    except KeyError:
        hint = difflib.get_close_matches(type_name, SINK_TYPES, n=1)
        raise UnknownSinkType(
            f"unknown sink type {type_name!r} (known: {', '.join(sorted(SINK_TYPES))})"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
        ) from None
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    sink: Sink = cls(agency, context)
    return sink
