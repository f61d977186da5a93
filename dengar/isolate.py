"""A batch stored again one item at a time, each item under a marker.

A batch is one transaction, so one item the store cannot hold (a character
PostgreSQL refuses, a value too long for a column, a bug that only this item
meets) rolls back the whole batch; retrying it would fail the same way for
ever and hold back every later item of the channel. Here each item gets its
own transaction: an item that fails alone is quarantined with the reason,
and the cursor is stored last, in a transaction of its own, once every item
it covers is stored or quarantined. DESIGN.md's invariant holds: the cursor
never advances past an item that is not in the database, and a crash in
between re-reads items that are recognised by ``(channel, external_id)``.

An item can also stop the process itself (out of memory, killed by a
watchdog, a crash in a C library). So before an item is stored alone, a
marker for it is committed: a quarantine row with status ``attempt-N`` and
its bytes. Storing the item deletes the marker in the same transaction; a
marker left behind says the process stopped while it worked on that item.
The next pass tries it again, alone, up to :data:`MAX_ATTEMPTS` times, then
holds it (status ``held``) with that reason. A batch during which the
process stopped is stored this way on the next poll (``App.store``), so an
item that stops the service does so a bounded number of times — once
unknown within its batch, then alone — and never holds back its channel.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from enum import Enum

from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from contracts.channel import FetchResult
from contracts.records import InboundMessage, RejectedItem
from dengar.dbhealth import short_error
from dengar.pipeline import BatchSummary
from normalizer.text import storable
from storage.tables import ComplaintRow, QuarantineRow

log = logging.getLogger(__name__)

# an item that stopped the process this many times, alone, is held. More
# than one: an operator's restart or a kill storm may stop the process while
# an innocent item is in flight, and it must not be held for that.
MAX_ATTEMPTS = 3
_ATTEMPT = "attempt-"
UNFINISHED = (
    "processing did not finish in {n} attempt(s): the process stopped (crash, "
    "kill, out of memory or time) while it stored this item"
)

# stores a part of the batch in one transaction: the flag says whether to
# advance the cursor; the callable runs first in that transaction
StorePart = Callable[
    [FetchResult, bool, Callable[[Session], None] | None], BatchSummary
]


class _Claim(Enum):
    STORE = "store"  # marked: store it now
    DONE = "done"  # a record or a held quarantine entry exists
    HELD = "held"  # it stopped the process too often: held now


def isolate(
    channel: str,
    result: FetchResult,
    store: StorePart,
    sessions: sessionmaker[Session],
    *,
    advance_cursor: bool,
    fatal: Callable[[BaseException], bool],
) -> BatchSummary:
    """Store ``result`` item by item with ``store``; an item whose own
    transaction fails is quarantined with the reason. Errors for which
    ``fatal`` is true (the database is gone, the worker lost its lease) are
    raised: they are not the item's fault (the item's marker is removed
    when the database still answers)."""
    summary = BatchSummary(skipped=result.skipped)
    for item in result.items:
        alone = FetchResult(items=[item], cursor=result.cursor)
        claim = _claim(sessions, item)
        if claim is _Claim.HELD:
            summary.quarantined += 1
            continue
        if claim is _Claim.DONE:
            summary.add(store(alone, False, None))  # counted as stored before
            continue
        try:
            summary.add(store(alone, False, _unmark(item)))
        except Exception as exc:
            if fatal(exc):
                # not the item's fault: give its attempt back if we can
                with contextlib.suppress(Exception), sessions() as session:
                    _unmark(item)(session)
                    session.commit()
                raise
            reason = f"cannot store: {short_error(getattr(exc, 'orig', None) or exc)}"
            log.warning("%s %s quarantined: %s", channel, item.external_id, reason)
            _hold(sessions, item, reason)
            summary.quarantined += 1
    for rejected in result.rejected:
        summary.add(
            store(FetchResult(items=[], cursor=None, rejected=[rejected]), False, None)
        )
    if advance_cursor:
        summary.add(store(FetchResult(items=[], cursor=result.cursor), True, None))
    return summary


def _marker(
    session: Session, item: InboundMessage | RejectedItem
) -> QuarantineRow | None:
    return session.exec(
        select(QuarantineRow).where(
            QuarantineRow.channel == item.channel,
            QuarantineRow.external_id == item.external_id,
        )
    ).first()


def _claim(sessions: sessionmaker[Session], item: InboundMessage) -> _Claim:
    """Commit the item's marker (one more attempt), unless it is stored,
    held, or out of attempts (then held now)."""
    with sessions() as session:
        stored = session.exec(
            select(ComplaintRow.id).where(
                ComplaintRow.channel == item.channel,
                ComplaintRow.external_id == item.external_id,
            )
        ).first()
        if stored is not None:
            return _Claim.DONE
        row = _marker(session, item)
        if row is None:
            row = QuarantineRow(
                channel=item.channel,
                external_id=item.external_id,
                reason=UNFINISHED.format(n=1),
                data=item.raw,
                status=f"{_ATTEMPT}1",
            )
        elif not row.status.startswith(_ATTEMPT):
            return _Claim.DONE
        else:
            attempts = int(row.status.removeprefix(_ATTEMPT))
            if attempts >= MAX_ATTEMPTS:
                row.status = "held"
                row.reason = UNFINISHED.format(n=attempts)
                log.error(
                    "%s %s quarantined: %s", item.channel, item.external_id, row.reason
                )
                session.add(row)
                session.commit()
                return _Claim.HELD
            row.status = f"{_ATTEMPT}{attempts + 1}"
            row.reason = UNFINISHED.format(n=attempts + 1)
        session.add(row)
        session.commit()
    return _Claim.STORE


def _unmark(item: InboundMessage) -> Callable[[Session], None]:
    """Deletes the item's marker inside the transaction that stores it."""

    def run(session: Session) -> None:
        session.execute(
            delete(QuarantineRow).where(
                QuarantineRow.channel == item.channel,  # type: ignore[arg-type]
                QuarantineRow.external_id == item.external_id,  # type: ignore[arg-type]
            )
        )

    return run


def _hold(sessions: sessionmaker[Session], item: InboundMessage, reason: str) -> None:
    with sessions() as session:
        row = _marker(session, item)
        if row is None:  # the marker was taken by a concurrent retry
            row = QuarantineRow(
                channel=item.channel,
                external_id=item.external_id,
                data=item.raw,
                reason="",
            )
        row.reason = storable(reason)
        row.status = "held"
        session.add(row)
        session.commit()
