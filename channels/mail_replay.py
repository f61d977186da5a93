"""A mail channel's item rebuilt from its stored RFC 822 bytes (the replay
of ``dengar quarantine retry``), shared by the Maildir and IMAP channels."""

from __future__ import annotations

from datetime import datetime

from contracts.channel import FetchResult
from contracts.errors import NotReplayable
from contracts.records import InboundMessage


def replay_mail(
    channel: str, raw: bytes, external_id: str, received_at: datetime
) -> FetchResult:
    """The mail as its channel handed it over: raw bytes, parsed later by
    the normalizer. The external id is the stored one (a Maildir's is the
    file name, not in the bytes)."""
    if not raw.strip():
        raise NotReplayable("no message bytes were kept")
    item = InboundMessage(
        channel=channel,
        external_id=external_id,
        received_at=received_at,
        raw=raw,
        raw_format="rfc822",
    )
    return FetchResult(items=[item], cursor=None)
