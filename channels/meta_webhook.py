"""The receiving half every Meta webhook shares (WhatsApp Cloud API, Page
and Instagram): the GET verification handshake, and the signed POST that
is checked on the raw bytes, stored in the spool of each channel it speaks
for and only then answered.

A channel type gives what differs: how its body is read (``load``) and
which of its configured channels the body is for (``route``). A signed body
nobody can read is kept under ``rejected/`` for staff and answered 200: Meta
retries any other answer for up to 7 days and disables a webhook that keeps
failing, which would cost the good deliveries behind it; a body for no
configured account goes to the channel it was posted to, whose fetch
quarantines what is not its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from channels.meta_json import SHAPE_ERRORS, MalformedPayload
from channels.meta_signature import HEADER, signature_valid
from channels.push import Answer
from channels.push_spool import PushSpool, SpooledBody
from contracts.channel import FetchResult
from contracts.records import RejectedItem

log = logging.getLogger(__name__)

# Meta's challenge is a number of ten digits or so
MAX_CHALLENGE = 256
# which spools a readable body goes to, and the account ids it names that
# no channel of the same app has
Route = Callable[[Mapping[str, Any]], tuple[Sequence[PushSpool], set[str]]]


@dataclass(frozen=True)
class MetaEndpoint:
    """The receiving side of one configured channel."""

    kind: str  # "whatsapp", "meta": for logs
    name: str
    app_secret: SecretStr
    verify_token: SecretStr
    spool: PushSpool

    def __repr__(self) -> str:
        return f"MetaEndpoint(kind={self.kind!r}, name={self.name!r})"


def signature_of(headers: Mapping[str, str]) -> str | None:
    """The ``X-Hub-Signature-256`` value, whatever the header's case."""
    return headers.get(HEADER.lower()) or headers.get(HEADER)


def handshake(endpoint: MetaEndpoint, params: Mapping[str, str]) -> Answer:
    """Meta's subscription check: echo ``hub.challenge`` for our token."""
    token = params.get("hub.verify_token", "")
    expected = endpoint.verify_token.get_secret_value()
    if params.get("hub.mode") != "subscribe":
        return Answer(400, "hub.mode must be subscribe")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        log.warning(
            "%s %s: verification with a wrong verify_token",
            endpoint.kind,
            endpoint.name,
        )
        return Answer(403, "wrong verify token")
    challenge = params.get("hub.challenge", "")
    if not challenge:
        return Answer(400, "hub.challenge missing")
    if len(challenge) > MAX_CHALLENGE:
        # Meta's is a short number: a long one is not echoed
        return Answer(400, f"hub.challenge longer than {MAX_CHALLENGE} characters")
    return Answer(200, challenge)


def receive(
    endpoint: MetaEndpoint,
    body: bytes,
    signature: str | None,
    load: Callable[[bytes], Mapping[str, Any]],
    route: Route,
) -> Answer:
    """Check the signature, store, answer. ``load`` raises ``ValueError``
    for a body that is not what Meta documents."""
    if not signature:
        return Answer(401, "missing X-Hub-Signature-256")
    if not signature_valid(body, signature, endpoint.app_secret.get_secret_value()):
        log.warning("%s %s: POST with a wrong signature", endpoint.kind, endpoint.name)
        return Answer(401, "invalid X-Hub-Signature-256")
    try:
        data = load(body)
        targets, unknown = route(data)
    except SHAPE_ERRORS as exc:
        # signed, so Meta's: kept, and answered 200 because any other
        # answer is retried for days and a permanent error stays permanent
        endpoint.spool.store(body, rejected=True)
        why = str(exc) if isinstance(exc, MalformedPayload) else _shape(exc)
        log.warning(
            "%s %s: unreadable webhook kept: %s", endpoint.kind, endpoint.name, why
        )
        return Answer(200, f"unreadable payload kept for review: {why}")
    stored_new = False
    for spool in targets or (endpoint.spool,):
        _path, new = spool.store(body)
        stored_new = stored_new or new
    if targets and unknown:
        # the configured accounts' channels read only their own events:
        # keep the body for staff beside this channel's unreadable ones
        endpoint.spool.store(body, rejected=True)
        log.warning(
            "%s %s: webhook also for unconfigured account %s, kept in %s",
            endpoint.kind,
            endpoint.name,
            ", ".join(sorted(unknown)),
            endpoint.spool.directory / "rejected",
        )
    return Answer(200, "received" if stored_new else "already received")


def _shape(exc: Exception) -> str:
    return f"unexpected shape ({type(exc).__name__}: {exc})"[:300]


class SpoolReader:
    """What a channel fed by this receiver shares: its faults are named
    after the body they came in, and a committed batch's bodies leave the
    spool (``after_commit``)."""

    name: str
    spool: PushSpool

    def _rejected(self, raw: bytes, reason: str) -> RejectedItem:
        # named by the body's and the reason's hashes, so one body's same
        # fault is quarantined once
        digest = hashlib.sha256(raw).hexdigest()[:16]
        why = hashlib.sha256(reason.encode()).hexdigest()[:8]
        return RejectedItem(
            channel=self.name,
            external_id=f"webhook:{digest}:{why}",
            raw=raw,
            reason=reason,
        )

    async def after_commit(self, result: FetchResult) -> None:
        """Remove the stored bodies from the spool."""
        for receipt in result.receipts:
            if isinstance(receipt, SpooledBody):
                await asyncio.to_thread(self.spool.done, receipt)


def same_app(secret: SecretStr, every: Sequence[Any]) -> list[Any]:
    """The channels (of one type) served by the same Meta app: one body,
    signed with that app's secret, may speak for several of them."""
    mine = secret.get_secret_value()
    return [s for s in every if s.app_secret.get_secret_value() == mine]
