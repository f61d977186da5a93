"""Channel types by name, resolved lazily so that a broken optional
dependency only breaks its own channel."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from contracts.channel import Channel

CHANNEL_TYPES: dict[str, str] = {
    "maildir": "channels.maildir:MaildirChannel",
    "imap": "channels.imap.channel:ImapChannel",
    "telegram": "channels.telegram.channel:TelegramChannel",
    "x": "channels.x:XChannel",
    "whatsapp": "channels.whatsapp:WhatsAppChannel",
    "webform": "channels.webform:WebformChannel",
}


class UnknownChannelType(LookupError):
    """No channel of that type is known."""


def channel_class(type_name: str) -> type[Any]:
    """The class implementing channel type ``type_name``."""
    try:
        target = CHANNEL_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(CHANNEL_TYPES))
        hint = difflib.get_close_matches(type_name, CHANNEL_TYPES, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UnknownChannelType(
            f"unknown channel type {type_name!r} (known: {known}){suggestion}"
        ) from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Any] = getattr(module, attr)
    return cls


def build_channel(settings: Any) -> Channel:
    """Instantiate the channel for its settings model (``settings.type``)."""
    channel: Channel = channel_class(settings.type)(settings)
    return channel
