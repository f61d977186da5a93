"""Channel types by name (``type:`` in a channel's config), resolved lazily
so that a broken optional dependency only breaks its own channel. Adding a
channel is one line here (see docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from contracts.channel import Channel
from contracts.registry import resolve

CHANNEL_TYPES: dict[str, str] = {
    "maildir": "channels.maildir:MaildirChannel",
    "imap": "channels.imap.channel:ImapChannel",
    "telegram": "channels.telegram.channel:TelegramChannel",
    "x": "channels.x:XChannel",
    "whatsapp": "channels.whatsapp.channel:WhatsAppChannel",
    "meta": "channels.meta.channel:MetaChannel",
    "webform": "channels.webform.channel:WebformChannel",
}


def channel_class(type_name: str) -> type[Any]:
    """The class implementing channel type ``type_name``."""
    return resolve(CHANNEL_TYPES, type_name, "channel")


def build_channel(settings: Any) -> Channel:
    """Instantiate the channel for its settings model (``settings.type``)."""
    channel: Channel = channel_class(settings.type)(settings)
    return channel
