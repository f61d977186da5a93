"""What ``/webhooks/whatsapp/<name>`` answers, without any web framework.

The handshake and the signed, stored-then-answered POST are Meta's for
every product (``channels.meta_webhook``); what is WhatsApp's own is that a
body goes to the spool of the channel whose ``phone_number_id`` it names
(one Meta app may serve several numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from channels import meta_webhook
from channels.meta_webhook import MetaEndpoint
from channels.push import Answer
from channels.push_spool import PushSpool, spool_for
from channels.whatsapp.payload import load, phone_number_ids
from config.channel_settings import WhatsAppChannelSettings


def spool_of(
    settings: WhatsAppChannelSettings, base_dir: Path | None = None
) -> PushSpool:
    """The spool directory of one channel (a relative path from the working
    directory, as the channel and the web app see it)."""
    return spool_for(settings.spool_directory, settings.name, base_dir)


def endpoint_of(
    settings: WhatsAppChannelSettings, base_dir: Path | None = None
) -> MetaEndpoint:
    """What the shared Meta receiver needs of this channel."""
    return MetaEndpoint(
        "whatsapp",
        settings.name,
        settings.app_secret,
        settings.verify_token,
        spool_of(settings, base_dir),
    )


def handshake(settings: WhatsAppChannelSettings, params: Mapping[str, str]) -> Answer:
    """Meta's subscription check: echo ``hub.challenge`` for our token."""
    return meta_webhook.handshake(endpoint_of(settings), params)


def receive(
    settings: WhatsAppChannelSettings,
    every: Sequence[WhatsAppChannelSettings],
    body: bytes,
    signature: str | None,
    base_dir: Path | None = None,
) -> Answer:
    """Check, store, answer. ``every`` holds all WhatsApp channels, to find
    the one of each number the body names."""
    served = meta_webhook.same_app(settings.app_secret, every)

    def route(data: Mapping[str, Any]) -> tuple[list[PushSpool], set[str]]:
        named = phone_number_ids(data)
        targets = [spool_of(s, base_dir) for s in served if s.phone_number_id in named]
        return targets, named - {s.phone_number_id for s in served}

    return meta_webhook.receive(
        endpoint_of(settings, base_dir), body, signature, load, route
    )


class WhatsAppWebhook:
    """The push endpoint of one WhatsApp channel (``channels.push``)."""

    def __init__(
        self,
        settings: WhatsAppChannelSettings,
        every: Sequence[object],
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.every = [s for s in every if isinstance(s, WhatsAppChannelSettings)]
        self.base_dir = base_dir
        self.max_body_bytes = settings.max_webhook_bytes

    def __repr__(self) -> str:
        return f"WhatsAppWebhook(channel={self.settings.name!r})"

    def handshake(self, params: Mapping[str, str]) -> Answer:
        """Meta's verification GET."""
        return handshake(self.settings, params)

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """A signed POST."""
        return receive(
            self.settings,
            self.every,
            body,
            meta_webhook.signature_of(headers),
            self.base_dir,
        )
