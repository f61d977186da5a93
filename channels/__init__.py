"""Channel adapters: one module per source, the protocol and the registry."""

from channels.base import (
    Channel,
    FetchResult,
    RecipientUnreachable,
    Replier,
    ReplyError,
    ReplyRetriable,
)
from channels.errors import ChannelError, FatalChannelError, RetriableChannelError
from channels.registry import CHANNEL_TYPES, build_channel, channel_class

__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelError",
    "FatalChannelError",
    "FetchResult",
    "RecipientUnreachable",
    "Replier",
    "ReplyError",
    "ReplyRetriable",
    "RetriableChannelError",
    "build_channel",
    "channel_class",
]
