"""What ``/webhooks/meta/<name>`` answers: Page (``feed``, ``messages``)
and Instagram (``comments``, ``mentions``, ``messages``) events on one path.

The handshake and the signed, stored-then-answered POST are shared with
WhatsApp (``channels.meta_webhook``); a body goes to the spool of each
channel whose Page or Instagram account it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from channels import meta_webhook
from channels.meta.payload import account_ids, load
from channels.meta_webhook import MetaEndpoint
from channels.push import Answer
from channels.push_spool import PushSpool, spool_for
from config.channel_settings import MetaChannelSettings


def own_accounts(settings: MetaChannelSettings) -> set[str]:
    """The Page and Instagram account ids of one channel."""
    return {i for i in (settings.page_id, settings.instagram_account_id) if i}


def spool_of(settings: MetaChannelSettings, base_dir: Path | None = None) -> PushSpool:
    """The spool directory of one channel (relative to the working
    directory, as the channel and the web app see it)."""
    return spool_for(settings.spool_directory, settings.name, base_dir)


class MetaWebhook:
    """The push endpoint of one Meta channel (``channels.push``)."""

    def __init__(
        self,
        settings: MetaChannelSettings,
        every: Sequence[object],
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.served = meta_webhook.same_app(
            settings.app_secret,
            [s for s in every if isinstance(s, MetaChannelSettings)],
        )
        self.base_dir = base_dir
        self.max_body_bytes = settings.max_webhook_bytes
        self.endpoint = MetaEndpoint(
            "meta",
            settings.name,
            settings.app_secret,
            settings.verify_token,
            spool_of(settings, base_dir),
        )

    def __repr__(self) -> str:
        return f"MetaWebhook(channel={self.settings.name!r})"

    def handshake(self, params: Mapping[str, str]) -> Answer:
        """Meta's verification GET."""
        return meta_webhook.handshake(self.endpoint, params)

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """A signed POST."""
        return meta_webhook.receive(
            self.endpoint, body, meta_webhook.signature_of(headers), load, self._route
        )

    def _route(self, data: Mapping[str, Any]) -> tuple[list[PushSpool], set[str]]:
        named = account_ids(data)
        targets = [
            spool_of(s, self.base_dir) for s in self.served if own_accounts(s) & named
        ]
        known = set().union(*(own_accounts(s) for s in self.served))
        return targets, named - known
