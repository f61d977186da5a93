"""The contract of a push endpoint: a channel whose source calls us
(WhatsApp and Meta webhooks, SMS gateways, the web form).

The web app mounts every push channel (WhatsApp; Telegram in webhook mode)
at ``/webhooks/<type>/<name>`` through one receiver (``dengar.web.push``)
that caps the body and hands the raw bytes here. An endpoint checks the
signature (or shared secret) on the raw bytes before parsing, stores the
body durably (``channels.push_spool``) and only then answers; the channel's
``fetch`` later reads the spool like any source.
"""

from __future__ import annotations

import difflib
import hmac
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer: status and a short plain-text body (never a secret)."""

    status: int
    text: str


class PushEndpoint(Protocol):
    """What the shared receiver calls for one configured channel."""

    max_body_bytes: int

    def handshake(self, params: Mapping[str, str]) -> Answer:
        """Answer a GET (a subscription check), or 405 if there is none."""

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Verify, store durably, answer. Called in a worker thread."""


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` whatever its case ('' when absent)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def same_secret(given: str, expected: str) -> bool:
    """Whether a request's shared secret is ours, in constant time (no
    timing tells an attacker how much of a guess was right)."""
    return hmac.compare_digest(given.encode(), expected.encode())


# channel type -> "module:factory"; factory(settings, all_channel_settings)
# raises LookupError for a channel of that type that is not pushed to
PUSH_ENDPOINTS: dict[str, str] = {
    "telegram": "channels.telegram.webhook:webhook_of",
    "whatsapp": "channels.whatsapp.webhook:WhatsAppWebhook",
    "meta": "channels.meta.webhook:MetaWebhook",
}


def push_endpoint(settings: Any, every: Sequence[Any]) -> PushEndpoint:
    """The endpoint of a push channel's settings; LookupError for a channel
    type that is not pushed to."""
    try:
        target = PUSH_ENDPOINTS[settings.type]
    except KeyError:
        hint = difflib.get_close_matches(settings.type, PUSH_ENDPOINTS, n=1)
        raise LookupError(
            f"channel type {settings.type!r} has no webhook"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
        ) from None
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    endpoint: PushEndpoint = factory(settings, every)
    return endpoint
