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
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from contracts.records import (
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


@runtime_checkable
class Channel(Protocol):
    """A source of complaints. Blocking libraries run in ``asyncio.to_thread``."""

    name: str

    async def check(self) -> None:
        """Verify credentials and reachability; raise a
        ``contracts.errors.ChannelError``."""

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
class ReplaysRaw(Protocol):
    """A channel class that rebuilds an item from the raw bytes it handed
    over (``InboundMessage.raw``) or rejected (``RejectedItem.raw``), for
    ``dengar quarantine retry``. Every channel class implements it (as a
    static or class method): the shell replays without knowing the type."""

    def replay(
        self, settings: Any, raw: bytes, external_id: str, received_at: datetime
    ) -> FetchResult:
        """The item(s) in ``raw`` as ``fetch`` would have returned them, with
        ``cursor=None`` (a replay never moves the cursor) and ``skipped`` the
        number of files left out (the running channel downloads them).
        ``external_id`` and ``received_at`` are the stored row's, for sources
        whose bytes do not hold them. Raise
        ``contracts.errors.NotReplayable`` saying why the bytes cannot be
        turned back into an item."""


@runtime_checkable
class Replier(Protocol):
    """A channel that can send a message back to a citizen."""

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        """Send ``reply``; return the id the remote gave the sent message
        (so a citizen's answer to it threads into the case), or None. Raise
        ``contracts.errors.RecipientUnreachable`` or ``ReplyRetriable`` on failure."""
