"""DESIGN.md's invariant in one function: a batch's records, its outbox rows
and the cursor that follows it are committed together, and what lives
outside the database learns of the batch only after that commit."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from contracts.channel import FetchResult
from dengar.pipeline import BatchSummary, Pipeline
from storage.tables import ChannelState, utcnow


def store_batch(
    session: Session,
    pipeline: Pipeline,
    channel: str,
    result: FetchResult,
    *,
    advance_cursor: bool = True,
    first: Callable[[Session], None] | None = None,
) -> BatchSummary:
    """Store ``result`` of ``channel`` in one transaction of ``session``.

    The invariant: the cursor advances only in the transaction that stores
    every item it covers, so a crash at any instant loses no complaint and
    makes no duplicate (a re-fetched item is known by ``(channel,
    external_id)``). In order:

    1. ``first`` (a worker's lease fence, an item's marker being removed)
       may refuse the transaction by raising;
    2. the records, the citizens' replies and the agencies' outbox rows;
    3. the cursor, unless ``advance_cursor`` is false (``dengar import``, a
       quarantine replay, the items of a batch stored one by one);
    4. the commit; if anything before it raises, the caller's ``session``
       rolls back and nothing outside the database has changed;
    5. after the commit only: the duplicate index learns the new cases.
       The source hears that the items are safe (``Channel.after_commit``:
       a Telegram 200, a mail flagged, a spool file removed) from the
       runner once this returns, never before.
    """
    if first is not None:
        first(session)
    stored = pipeline.ingest(session, channel, result)
    if advance_cursor:
        record_cursor(session, channel, result.cursor)
    session.commit()
    pipeline.committed(stored)
    return stored.summary


def record_cursor(session: Session, channel: str, cursor: str | None) -> None:
    """Set the channel's cursor, and note a successful poll, in ``session``."""
    state = session.get(ChannelState, channel) or ChannelState(name=channel)
    state.cursor = cursor
    now = utcnow()
    state.last_poll_at = now
    state.last_success_at = now
    state.consecutive_failures = 0
    state.last_error = None
    state.next_poll_at = None
    session.add(state)
