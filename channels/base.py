"""The contract between a source and the runner.

A channel fetches new items given the cursor the runner stored, and returns
them with the cursor that follows them. It does not store, sleep or retry: the
runner stores items and cursor in one transaction, then calls ``after_commit``
so the channel may mark the items done at the source (move a file, flag a
mail). A channel that can answer citizens also implements ``Replier``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from normalizer.records import (
    DeliveryReport,
    InboundMessage,
    OutgoingReply,
    RejectedItem,
)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """New items and the cursor to store with them.

    ``cursor`` is opaque to the runner. ``more`` says that the source has more
    items right now (the batch was cut at ``limit``), so the runner fetches
    again at once instead of waiting for the next interval.
    """

    items: Sequence[InboundMessage]
    cursor: str | None
    rejected: Sequence[RejectedItem] = ()
    more: bool = False
    # Items the channel looked at and deliberately skipped (a group message,
    # an unknown update kind); counted in the summary, not stored.
    skipped: int = 0
    # Channel-specific state for after_commit (e.g. which files to move).
    receipts: Sequence[object] = field(default=())
    # What became of replies sent earlier (stored on their outbox rows).
    deliveries: Sequence[DeliveryReport] = ()


def missing_files_metadata(
    missing: Sequence[dict[str, Any]], max_file_bytes: int | None = None
) -> dict[str, Any]:
    """The item metadata that tells the pipeline which files of a message
    could not be fetched (each ``{kind, filename, size, reason, file_id}``,
    with the ``limit`` it broke when known), for the case's history and the
    citizen's reply; empty when nothing is missing."""
    if not missing:
        return {}
    metadata: dict[str, Any] = {"files_not_downloaded": tuple(missing)}
    if max_file_bytes is not None:
        metadata["max_file_bytes"] = max_file_bytes
    # a scalar, so that it survives into the stored record's extras
    metadata["files_not_downloaded_ids"] = " ".join(m["file_id"] for m in missing)
    too_large = [m for m in missing if m["reason"] == "too_large"]
    if too_large:
        first = too_large[0]
        metadata["file_too_large"] = True
        metadata["file_too_large_name"] = first["filename"]
        if "limit" in first:
            metadata["max_file_bytes"] = first["limit"]
        metadata["file_too_large_bytes"] = first["size"]
    return metadata


@runtime_checkable
class Channel(Protocol):
    """A source of complaints. Blocking libraries run in ``asyncio.to_thread``."""

    name: str

    async def check(self) -> None:
        """Verify credentials and reachability; raise a ``ChannelError``."""

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Return up to ``limit`` items after ``cursor``.

        May wait for new items (IMAP IDLE, Telegram long polling) but must
        return within the channel's configured wait.
        """

    async def after_commit(self, result: FetchResult) -> None:
        """Called once ``result`` is stored; mark the items done at the source.

        If it fails or never runs (the process died) the items come again and
        are recognised by ``(channel, external_id)``.
        """

    async def close(self) -> None:
        """Release connections."""


@runtime_checkable
class Replier(Protocol):
    """A channel that can send a message back to a citizen."""

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        """Send ``reply``; return the id the remote gave the sent message
        (so a citizen's answer to it threads into the case), or None. Raise
        ``RecipientUnreachable`` or ``ReplyRetriable`` on failure."""


class ReplyError(Exception):
    """Sending a reply failed."""


class RecipientUnreachable(ReplyError):
    """The citizen cannot be reached (blocked the bot, address bounces);
    retrying will not help."""


class ReplyRetriable(ReplyError):
    """Sending failed for now; retry after ``retry_after`` seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
