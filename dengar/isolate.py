"""A batch the database refused, stored again one item at a time.

A batch is one transaction, so one item the store cannot hold (a character
PostgreSQL refuses, a value too long for a column, a bug that only this item
meets) rolls back the whole batch; retrying it would fail the same way for
ever and hold back every later item of the channel. Here each item gets its
own transaction: an item that fails alone is quarantined with the reason,
and the cursor is stored last, in a transaction of its own, once every item
it covers is stored or quarantined. DESIGN.md's invariant holds: the cursor
never advances past an item that is not in the database, and a crash in
between re-reads items that are recognised by ``(channel, external_id)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.base import FetchResult
from dengar.dbhealth import short_error
from dengar.pipeline import BatchSummary
from normalizer.records import InboundMessage, RejectedItem

log = logging.getLogger(__name__)

# stores a part of the batch in one transaction; the flag: advance the cursor
StorePart = Callable[[FetchResult, bool], BatchSummary]


def isolate(
    channel: str,
    result: FetchResult,
    store: StorePart,
    *,
    advance_cursor: bool,
    fatal: Callable[[BaseException], bool],
) -> BatchSummary:
    """Store ``result`` item by item with ``store``; an item whose own
    transaction fails is quarantined with the reason. Errors for which
    ``fatal`` is true (the database is gone, the worker lost its lease) are
    raised: they are not the item's fault."""
    summary = BatchSummary(skipped=result.skipped)
    for item in result.items:
        alone = FetchResult(items=[item], cursor=result.cursor)
        try:
            summary.add(store(alone, False))
        except Exception as exc:
            if fatal(exc):
                raise
            summary.add(store(_quarantined(channel, item, exc), False))
    for rejected in result.rejected:
        summary.add(
            store(FetchResult(items=[], cursor=None, rejected=[rejected]), False)
        )
    if advance_cursor:
        summary.add(store(FetchResult(items=[], cursor=result.cursor), True))
    return summary


def _quarantined(channel: str, item: InboundMessage, exc: BaseException) -> FetchResult:
    reason = f"cannot store: {short_error(getattr(exc, 'orig', None) or exc)}"
    log.warning("%s %s quarantined: %s", channel, item.external_id, reason)
    rejected = RejectedItem(item.channel, item.external_id, item.raw, reason)
    return FetchResult(items=[], cursor=None, rejected=[rejected])
