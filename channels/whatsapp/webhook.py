"""What ``/webhooks/whatsapp/<name>`` answers, without any web framework.

GET is Meta's verification handshake. POST is checked against the
channel's app secret on the raw bytes before anything parses them (401
otherwise), then stored in the spool of the channel whose
``phone_number_id`` the body names (one Meta app may serve several numbers)
and only then answered 200. A signed body nobody can read is kept under
``rejected/`` and answered 400, so Meta stops retrying and staff can look.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from channels.meta_signature import HEADER, signature_valid
from channels.push import Answer
from channels.push_spool import PushSpool, spool_for
from channels.whatsapp.payload import MalformedPayload, load, phone_number_ids
from config.channel_settings import WhatsAppChannelSettings

log = logging.getLogger(__name__)


def spool_of(
    settings: WhatsAppChannelSettings, base_dir: Path | None = None
) -> PushSpool:
    """The spool directory of one channel (a relative path from the working
    directory, as the channel and the web app see it)."""
    return spool_for(settings.spool_directory, settings.name, base_dir)


def handshake(settings: WhatsAppChannelSettings, params: Mapping[str, str]) -> Answer:
    """Meta's subscription check: echo ``hub.challenge`` for our token."""
    token = params.get("hub.verify_token", "")
    expected = settings.verify_token.get_secret_value()
    if params.get("hub.mode") != "subscribe":
        return Answer(400, "hub.mode must be subscribe")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        log.warning(
            "whatsapp %s: verification with a wrong verify_token", settings.name
        )
        return Answer(403, "wrong verify token")
    challenge = params.get("hub.challenge", "")
    if not challenge:
        return Answer(400, "hub.challenge missing")
    return Answer(200, challenge)


def receive(
    settings: WhatsAppChannelSettings,
    every: Sequence[WhatsAppChannelSettings],
    body: bytes,
    signature: str | None,
    base_dir: Path | None = None,
) -> Answer:
    """Check, store, answer. ``every`` holds all WhatsApp channels, to find
    the one of each number the body names."""
    if not signature:
        return Answer(401, "missing X-Hub-Signature-256")
    if not signature_valid(body, signature, settings.app_secret.get_secret_value()):
        log.warning("whatsapp %s: POST with a wrong signature", settings.name)
        return Answer(401, "invalid X-Hub-Signature-256")
    own = spool_of(settings, base_dir)
    try:
        data = load(body)
    except MalformedPayload as exc:
        own.store(body, rejected=True)
        log.warning("whatsapp %s: unreadable webhook kept: %s", settings.name, exc)
        return Answer(400, f"unreadable payload kept for review: {exc}")
    same_app = [
        s
        for s in every
        if s.app_secret.get_secret_value() == settings.app_secret.get_secret_value()
    ]
    targets = {
        s.name: s for s in same_app if s.phone_number_id in phone_number_ids(data)
    }
    # a body for no configured number still goes to this channel, whose
    # fetch quarantines the unknown changes: nothing is lost
    stored_new = False
    for target in targets.values() or (settings,):
        _path, new = spool_of(target, base_dir).store(body)
        stored_new = stored_new or new
    unknown = phone_number_ids(data) - {s.phone_number_id for s in same_app}
    if targets and unknown:
        # the configured numbers' channels read only their own changes:
        # keep the body for staff beside this channel's unreadable ones
        own.store(body, rejected=True)
        log.warning(
            "whatsapp %s: webhook also for unconfigured phone_number_id %s, kept in %s",
            settings.name,
            ", ".join(sorted(unknown)),
            own.directory / "rejected",
        )
    return Answer(200, "received" if stored_new else "already received")


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
            headers.get(HEADER.lower()) or headers.get(HEADER),
            self.base_dir,
        )
