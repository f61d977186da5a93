"""The durable outbox: what must still be delivered, to agencies and to
citizens, claimed safely by any number of workers.

A row is written in the same transaction as the case it belongs to. Workers
claim due rows with one atomic statement (``UPDATE … RETURNING``; on
PostgreSQL the candidate rows are picked ``FOR UPDATE SKIP LOCKED``), deliver
outside any transaction, then record the outcome. A worker that dies leaves
its claim behind; after ``claim_timeout`` another worker takes the row again
and delivers it with the same idempotency key (at-least-once, exactly once in
effect for a receiver that honours the key).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, func

from normalizer.records import OutgoingReply
from storage.tables import ComplaintRow, OutboxRow, UnreachableRecipient, utcnow

PENDING, IN_FLIGHT, DELIVERED, DEAD, SKIPPED = (
    "pending",
    "in_flight",
    "delivered",
    "dead",
    "skipped",
)
KIND_AGENCY, KIND_REPLY = "agency", "reply"


def enqueue_agency(
    session: Session,
    complaint: ComplaintRow,
    agency_code: str,
    max_attempts: int,
    key: str,
) -> OutboxRow | None:
    """Queue ``complaint`` for its agency; None if that key is already queued."""
    assert complaint.id is not None
    if _exists(session, key):
        return None
    row = OutboxRow(
        kind=KIND_AGENCY,
        target=agency_code,
        complaint_id=complaint.id,
        idempotency_key=key,
        max_attempts=max_attempts,
    )
    session.add(row)
    return row


def enqueue_reply(
    session: Session,
    complaint: ComplaintRow,
    reply: OutgoingReply,
    *,
    max_attempts: int = 8,
    limit_per_hour: int | None = None,
) -> OutboxRow | None:
    """Queue a message to a citizen.

    Returns None, queuing nothing, when the key is already queued, the
    recipient is known unreachable, or ``limit_per_hour`` replies already went
    to that recipient on that channel in the last hour (loop protection).
    """
    assert complaint.id is not None
    if _exists(session, reply.idempotency_key):
        return None
    unreachable = session.get(UnreachableRecipient, (reply.channel, reply.recipient))
    if unreachable is not None:
        return None
    if limit_per_hour is not None:
        table = OutboxRow.__table__  # type: ignore[attr-defined]
        recent = session.execute(
            select(func.count())
            .select_from(table)
            .where(
                table.c.kind == KIND_REPLY,
                table.c.target == reply.channel,
                table.c.recipient == reply.recipient,
                table.c.created_at > utcnow() - timedelta(hours=1),
            )
        ).scalar_one()
        if recent >= limit_per_hour:
            return None
    row = OutboxRow(
        kind=KIND_REPLY,
        target=reply.channel,
        recipient=reply.recipient,
        complaint_id=complaint.id,
        idempotency_key=reply.idempotency_key,
        payload=json.dumps(asdict(reply), ensure_ascii=False),
        max_attempts=max_attempts,
    )
    session.add(row)
    return row


def reply_of(row: OutboxRow) -> OutgoingReply:
    """The citizen message stored in a reply row."""
    return OutgoingReply(**json.loads(row.payload or "{}"))


def _exists(session: Session, key: str) -> bool:
    found = session.exec(
        select(OutboxRow.id).where(OutboxRow.idempotency_key == key)  # type: ignore[call-overload]
    ).first()
    return found is not None


def claim(
    engine: Engine,
    worker: str,
    limit: int,
    claim_timeout: float,
    now: datetime | None = None,
) -> list[int]:
    """Atomically claim up to ``limit`` due rows for ``worker``; their ids."""
    now = now or utcnow()
    stale = now - timedelta(seconds=claim_timeout)
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    due = or_(
        and_(table.c.status == PENDING, table.c.next_attempt_at <= now),
        and_(table.c.status == IN_FLIGHT, table.c.claimed_at < stale),
    )
    candidates = (
        select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id)
    ).limit(limit)
    if engine.dialect.name == "postgresql":
        # a materialized CTE: as an ``IN (subquery)`` PostgreSQL may re-run
        # the LIMIT … SKIP LOCKED subquery per row and claim every due row
        picked = (
            candidates.with_for_update(skip_locked=True)
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        chosen = table.c.id == picked.c.id
    else:
        chosen = table.c.id.in_(candidates.scalar_subquery())
    statement = (
        update(table)
        .where(chosen, due)
        .values(
            status=IN_FLIGHT,
            claimed_by=worker,
            claimed_at=now,
            attempts=table.c.attempts + 1,
        )
        .returning(table.c.id)
    )
    with engine.begin() as connection:
        return sorted(connection.execute(statement).scalars().all())


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: about ``base·2^(n-1)``, capped."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return random.uniform(ceiling / 2, ceiling)


def mark_delivered(
    session: Session, row_id: int, worker: str, remote_id: str | None = None
) -> None:
    """Record a successful delivery (only if ``worker`` still holds the claim)."""
    _finish(
        session,
        row_id,
        worker,
        status=DELIVERED,
        delivered_at=utcnow(),
        remote_id=remote_id,
        last_error=None,
    )


def mark_failed(
    session: Session,
    row: OutboxRow,
    worker: str,
    error: str,
    *,
    permanent: bool,
    retry_after: float | None,
    base: float,
    cap: float,
) -> str:
    """Record a failed attempt: retry later, or ``dead`` when it is permanent
    or out of attempts. Returns the new status."""
    if permanent or row.attempts >= row.max_attempts:
        _finish(session, row.id or 0, worker, status=DEAD, last_error=error)
        return DEAD
    delay = (
        retry_after
        if retry_after is not None
        else backoff_seconds(row.attempts, base, cap)
    )
    _finish(
        session,
        row.id or 0,
        worker,
        status=PENDING,
        last_error=error,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
        claimed_by=None,
        claimed_at=None,
    )
    return PENDING


def mark_skipped(session: Session, row_id: int, worker: str, reason: str) -> None:
    """Record that a row will not be sent (e.g. the citizen is unreachable)."""
    _finish(session, row_id, worker, status=SKIPPED, last_error=reason)


def _finish(session: Session, row_id: int, worker: str, **values: object) -> None:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.claimed_by == worker)
        .values(**values)
    )
    session.commit()
    session.expire_all()  # the UPDATE bypassed the identity map


def retry(
    session: Session, row_ids: list[int] | None = None, dead: bool = False
) -> int:
    """Put dead (or the given) rows back in the queue, attempts reset."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    statement = update(table).values(
        status=PENDING, attempts=0, next_attempt_at=utcnow(), claimed_by=None
    )
    if row_ids is not None:
        statement = statement.where(
            table.c.id.in_(row_ids), table.c.status != DELIVERED
        )
    elif dead:
        statement = statement.where(table.c.status == DEAD)
    else:
        return 0
    result = session.execute(statement)
    session.commit()
    session.expire_all()  # the UPDATE bypassed the identity map
    return int(result.rowcount)  # type: ignore[attr-defined]
