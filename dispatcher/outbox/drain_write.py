"""Writing a drain's outcomes in few statements, each applied only while the
worker still holds the row's claim; and counting the citizen sends begun, so
that a crash cannot make one message go out a third time."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from dispatcher.outbox import queue as outbox
from dispatcher.outbox.drain_types import Claimed, Outcome
from storage.batch_sql import among, among_locked
from storage.tables import (
    ComplaintRow,
    OutboxRow,
    StatusEvent,
    UnreachableRecipient,
    utcnow,
)


def record_batch(
    engine: Engine,
    sessions: sessionmaker[Session],
    worker: str,
    outcomes: list[Outcome],
) -> None:
    """Store every outcome in one transaction; cases delivered to their
    agency become ``dispatched`` and recipients found unreachable are
    remembered."""
    with sessions() as session:
        write_outcomes(engine, session, worker, outcomes)
        session.commit()


def write_outcomes(
    engine: Engine, session: Session, worker: str, outcomes: list[Outcome]
) -> None:
    """Write ``outcomes`` in ``session`` (committing is the caller's)."""
    if not outcomes:
        return
    # rows that end the same way (typically all delivered) share one UPDATE
    now = utcnow()
    same: dict[tuple[tuple[str, object], ...], list[int]] = {}
    dispatched: list[Claimed] = []
    for o in outcomes:
        values: dict[str, object] = {"status": o.status}
        if o.status == outbox.DELIVERED:
            values |= {"delivered_at": now, "last_error": None}
            if o.row.kind == outbox.KIND_AGENCY:
                # the agency system's ticket number, shown on the case
                values["agency_ticket"] = o.remote_id
                dispatched.append(o.row)
            else:
                values["remote_id"] = o.remote_id
        elif o.status == outbox.PENDING:
            values |= {"last_error": o.error, "next_attempt_at": o.retry_at,
                       "claimed_by": None, "claimed_at": None}  # fmt: skip
        else:
            values["last_error"] = o.error
        if o.unreachable is not None:
            _note_unreachable(session, o.row.target, o)
        same.setdefault(tuple(values.items()), []).append(o.row.id)
    # before the outcomes: a retry gives its claim up, and only the worker
    # holding the claim may take its count back
    _sends_returned(engine, session, worker, [o.row.id for o in outcomes if o.began])
    outbox.finish_many(session, worker, same)
    _mark_dispatched(engine, session, dispatched)


def begin_sends(
    engine: Engine, session: Session, worker: str, ids: list[int]
) -> list[int]:
    """Count a send begun on each row of ``ids`` that ``worker`` still holds
    (committing is the caller's); those ids, which may now be sent."""
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    return sorted(
        _update_held(
            engine,
            session,
            worker,
            ids,
            unconfirmed_sends=table.c.unconfirmed_sends + 1,
        )
    )


def renew_claims(
    engine: Engine, session: Session, worker: str, ids: list[int]
) -> list[int]:
    """Renew ``worker``'s claim on the rows of ``ids`` it is still working on
    (committing is the caller's); those it still holds."""
    return _update_held(engine, session, worker, ids, claimed_at=utcnow())


def _update_held(
    engine: Engine, session: Session, worker: str, ids: list[int], **values: object
) -> list[int]:
    """Set ``values`` on the rows of ``ids`` that ``worker`` still holds in
    flight; their ids (a row another drain took over is left alone)."""
    if not ids:
        return []
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    return list(
        session.execute(
            update(table)
            .where(
                among(engine.dialect.name, table.c.id, ids),
                table.c.claimed_by == worker,
                table.c.status == outbox.IN_FLIGHT,
            )
            .values(**values)
            .returning(table.c.id)
        )
        .scalars()
        .all()
    )


def _sends_returned(
    engine: Engine, session: Session, worker: str, ids: list[int]
) -> None:
    if not ids:
        return
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(
            among(engine.dialect.name, table.c.id, ids),
            table.c.claimed_by == worker,
            table.c.unconfirmed_sends > 0,
        )
        .values(unconfirmed_sends=table.c.unconfirmed_sends - 1)
    )


def _note_unreachable(session: Session, channel: str, o: Outcome) -> None:
    assert o.unreachable is not None
    if session.get(UnreachableRecipient, (channel, o.unreachable)) is None:
        session.add(
            UnreachableRecipient(
                channel=channel,
                recipient=o.unreachable,
                reason=o.error or "unreachable",
            )
        )
        session.flush()


def _mark_dispatched(engine: Engine, session: Session, rows: list[Claimed]) -> None:
    # only cases still waiting for an agency move on; one UPDATE tells
    # which did (another worker may be finishing the same case for a
    # second agency), and their status events go in one INSERT
    if not rows:
        return
    targets = {row.complaint_id: row.target for row in rows}
    table = ComplaintRow.__table__  # type: ignore[attr-defined]
    moved = (
        session.execute(
            update(table)
            .where(
                among_locked(
                    engine.dialect.name,
                    table,
                    targets,
                    table.c.status.in_(("received", "verified")),
                )
            )
            .values(status="dispatched")
            .returning(table.c.id)
        )
        .scalars()
        .all()
    )
    if not moved:
        return
    events = StatusEvent.__table__  # type: ignore[attr-defined]
    now = utcnow()
    session.execute(
        insert(events),
        [
            {
                "complaint_id": case_id,
                "status": "dispatched",
                "actor": "dengar",
                "note": f"delivered to {targets[case_id]}",
                "created_at": now,
            }
            for case_id in sorted(moved)
        ],
    )
