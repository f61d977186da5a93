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
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    and_,
    any_,
    bindparam,
    event,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as SASession
from sqlmodel import Session, func

from contracts.backoff import backoff_seconds
from contracts.records import OutgoingReply
from storage.batch_sql import among
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
    *,
    new_case: bool = False,
    not_before: datetime | None = None,
    payload: str | None = None,
) -> OutboxRow | None:
    """Queue ``complaint`` for its agency; None if that key is already queued.

    ``new_case``: the complaint was created in this transaction with a new
    tracking number, which the key contains, so nothing can hold the key yet
    and the lookup (with the flush of every pending row it forces) is skipped.
    ``not_before``: the row is held until then (a chat channel's confirmation
    window); it is its first ``next_attempt_at``, so the claim query and its
    index need nothing else, and the hold survives a restart.
    ``payload``: what makes the row other than the case's dispatch (a
    redaction request).
    """
    assert complaint.id is not None
    if not new_case and _exists(session, key):
        return None
    row = OutboxRow(
        kind=KIND_AGENCY,
        target=agency_code,
        complaint_id=complaint.id,
        idempotency_key=key,
        max_attempts=max_attempts,
        payload=payload,
    )
    if not_before is not None:
        row.next_attempt_at = not_before
    session.add(row)
    return row


def release_held(session: Session, complaint_id: int) -> int:
    """End the hold of ``complaint_id``'s agency rows that were never tried
    (the citizen chose); how many rows are now due. Committing is the
    caller's."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    now = utcnow()
    result = session.execute(
        update(table)
        .where(
            table.c.complaint_id == complaint_id,
            table.c.kind == KIND_AGENCY,
            table.c.status == PENDING,
            table.c.attempts == 0,
            table.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def agency_rows(session: Session, complaint_id: int) -> list[OutboxRow]:
    """The agency rows of a case, oldest first (flushing pending ones).

    On PostgreSQL they stay locked until the caller commits: a worker's
    claim (``SKIP LOCKED``) passes them by meanwhile, and one that claimed a
    row first is seen to have tried it. So a confidentiality change either
    reaches the message a worker builds or finds the delivery it missed."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    query = (
        select(OutboxRow)
        .where(table.c.complaint_id == complaint_id, table.c.kind == KIND_AGENCY)
        .order_by(table.c.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def enqueue_reply(
    session: Session,
    complaint: ComplaintRow,
    reply: OutgoingReply,
    *,
    max_attempts: int = 8,
    limit_per_hour: int | None = None,
    new_key: bool = False,
) -> OutboxRow | None:
    """Queue a message to a citizen.

    Returns None, queuing nothing, when the key is already queued, the
    recipient is known unreachable, or ``limit_per_hour`` replies already went
    to that recipient on that channel in the last hour (loop protection).
    ``new_key``: the key names something created in this transaction (the
    acknowledgement of a new tracking number), so the lookup is skipped.
    """
    assert complaint.id is not None
    # The checks read the database without flushing this transaction's
    # pending rows first (a flush per reply was a fifth of a worker's CPU
    # under load); the pending rows they must see are looked at in memory.
    pending = [o for o in session.new if isinstance(o, OutboxRow)]
    if any(o.idempotency_key == reply.idempotency_key for o in pending):
        return None
    with session.no_autoflush:
        if not new_key and _exists(session, reply.idempotency_key):
            return None
        if _unreachable(session, reply.channel, reply.recipient):
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
            recent += sum(
                1
                for o in pending
                if o.kind == KIND_REPLY
                and (o.target, o.recipient) == (reply.channel, reply.recipient)
            )
            if recent >= limit_per_hour:
                return None
    row = OutboxRow(
        kind=KIND_REPLY,
        target=reply.channel,
        recipient=reply.recipient,
        complaint_id=complaint.id,
        idempotency_key=reply.idempotency_key,
        payload=json.dumps(_fields_of(reply), ensure_ascii=False, default=_iso),
        max_attempts=max_attempts,
    )
    session.add(row)
    return row


class _WithPayload(Protocol):
    @property
    def payload(self) -> str | None: ...


def reply_of(row: _WithPayload) -> OutgoingReply:
    """The citizen message stored in a reply row."""
    fields = json.loads(row.payload or "{}")
    # JSON has no tuples; the record's choices are pairs
    fields["choices"] = tuple(
        (str(label), str(command)) for label, command in fields.get("choices") or ()
    )
    wrote = fields.get("citizen_wrote_at")
    fields["citizen_wrote_at"] = datetime.fromisoformat(wrote) if wrote else None
    return OutgoingReply(**fields)


def _fields_of(reply: OutgoingReply) -> dict[str, object]:
    """The reply's fields for its JSON payload: its values are strings,
    numbers, datetimes and tuples of string pairs, which ``json.dumps``
    takes as they are (``dataclasses.asdict`` deep-copied each, a tenth of
    queuing a reply)."""
    return {f.name: getattr(reply, f.name) for f in fields(reply)}


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a reply payload")


# Recipients known unreachable are read once per transaction, not once per
# reply: a batch queues a reply per complaint, and on PostgreSQL a look-up
# each cost a worker about 2 ms of CPU. A regency has a few hundred such
# addresses; past this many, each reply asks the database instead.
UNREACHABLE_SNAPSHOT_MAX = 10_000
_SNAPSHOT = "dengar.outbox.unreachable"
_MARKED = "dengar.outbox.marked_unreachable"
T = TypeVar("T")


def _pending_marks(session: SASession) -> set[tuple[str, str]]:
    """Recipients marked unreachable in this transaction, not yet flushed."""
    return {
        (o.channel, o.recipient)
        for o in session.new
        if isinstance(o, UnreachableRecipient)
    }


@event.listens_for(SASession, "before_flush")
def _remember_marked(session: SASession, _context: object, _objects: object) -> None:
    # rows marked during the transaction, after its snapshot was read; once
    # flushed they leave session.new (and the session keeps no reference)
    marked = _pending_marks(session)
    if marked:
        _marked(session).update(marked)


def _for_transaction(session: SASession, name: str, make: Callable[[], T]) -> T:
    """``session.info[name]``, made anew for each transaction."""
    transaction = session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not transaction:
        held = session.info[name] = (transaction, make())
    return cast(T, held[1])


def _marked(session: SASession) -> set[tuple[str, str]]:
    return _for_transaction(session, _MARKED, set[tuple[str, str]])


def _unreachable(session: Session, channel: str, recipient: str) -> bool:
    pair = (channel, recipient)
    if pair in _marked(session) or pair in _pending_marks(session):
        return True
    table = UnreachableRecipient.__table__  # type: ignore[attr-defined]

    def read() -> set[tuple[str, str]] | None:
        rows = session.execute(
            select(table.c.channel, table.c.recipient).limit(
                UNREACHABLE_SNAPSHOT_MAX + 1
            )
        ).all()
        if len(rows) > UNREACHABLE_SNAPSHOT_MAX:
            return None
        return {(r.channel, r.recipient) for r in rows}

    known = _for_transaction(session, _SNAPSHOT, read)
    if known is not None:
        return pair in known
    found = session.execute(
        select(table.c.channel).where(
            table.c.channel == channel, table.c.recipient == recipient
        )
    ).first()
    return found is not None


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
    if engine.dialect.name == "postgresql":
        # every picked row is locked by this transaction and was due when
        # it was locked (PostgreSQL re-checks a row changed since the
        # snapshot), so no second check: it would only make the planner scan
        # the due rows again instead of fetching the picked ones by id
        chosen = _picked_on_postgres(table, now, stale, limit)
    else:
        candidates = (
            select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id)
        ).limit(limit)
        chosen = and_(table.c.id.in_(candidates.scalar_subquery()), due)
    statement = (
        update(table)
        .where(chosen)
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


def _picked_on_postgres(
    table: Any, now: datetime, stale: datetime, limit: int
) -> ColumnElement[bool]:
    # Each kind of due row is picked on its own so that the index on
    # (status, next_attempt_at) hands out the oldest in order and the scan
    # stops after ``limit``; one OR over both would read and sort every due
    # row of the backlog on each claim. The CTEs are materialized: as an
    # ``IN (subquery)`` PostgreSQL may re-run a LIMIT … SKIP LOCKED subquery
    # per row and claim every due row. A stale row locked here beyond the
    # limit is only held until the claim commits.
    order = (table.c.next_attempt_at, table.c.id)
    kinds = [
        select(table.c.id, table.c.next_attempt_at)
        .where(*where)
        .order_by(*order)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte(name)
        .prefix_with("MATERIALIZED")
        for name, where in (
            ("fresh", (table.c.status == PENDING, table.c.next_attempt_at <= now)),
            ("stale", (table.c.status == IN_FLIGHT, table.c.claimed_at < stale)),
        )
    ]
    due = union_all(*(select(kind.c.id, kind.c.next_attempt_at) for kind in kinds))
    due_rows = due.subquery("due")
    picked = (
        select(due_rows.c.id)
        .order_by(due_rows.c.next_attempt_at, due_rows.c.id)
        .limit(limit)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    # ``= ANY(ARRAY(…))`` so the update finds its rows by primary key
    # instead of joining the whole table to the picked ones
    return cast(
        "ColumnElement[bool]",
        table.c.id == any_(func.array(select(picked.c.id).scalar_subquery())),
    )


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


def _finish(session: Session, row_id: int, worker: str, **values: object) -> None:
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.claimed_by == worker)
        .values(**values)
    )
    session.commit()
    session.expire_all()  # the UPDATE bypassed the identity map


def finish_many(
    session: Session,
    worker: str,
    outcomes: Mapping[tuple[tuple[str, object], ...], list[int]],
) -> None:
    """Record many outcomes, each given as its column values and the ids of
    the rows that get them, only where ``worker`` still holds the claim;
    committing is the caller's.

    Rows sharing values take one ``UPDATE … WHERE id IN (…)``; the others
    (retries, each with its own time) go as one executemany per shape."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    singles: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for items, ids in outcomes.items():
        if len(ids) > 1:
            session.execute(
                update(table)
                .where(among(dialect, table.c.id, ids), table.c.claimed_by == worker)
                .values(dict(items))
            )
            continue
        values = dict(items)
        singles.setdefault(tuple(values), []).append(
            {"row_id": ids[0], **{f"new_{k}": v for k, v in values.items()}}
        )
    for shape, params in singles.items():
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"), table.c.claimed_by == worker)
            .values({k: bindparam(f"new_{k}") for k in shape}),
            params,
        )


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
