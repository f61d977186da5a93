"""Channel leases in the database, so that several ``dengar run --worker``
processes sharing one PostgreSQL poll each channel from exactly one of them.

A lease is a row ``(name, holder, expires_at)``. The holder renews it well
before it expires; when the holder dies, it is not renewed, and after
``expires_at`` any other worker takes it over. Workers also keep a heartbeat
row ``worker:<id>`` so each can count the live workers and take only its share
of the channels (``ceil(channels / workers)``).

Leases use the workers' clocks: keep them synchronised (NTP) to well within
the lease time. A worker whose lease ran out while it was paused cannot
commit a stale batch: ``fence`` locks the lease row inside the batch's own
transaction and refuses when another worker holds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from storage.tables import ChannelLease, utcnow

WORKER_PREFIX = "worker:"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout


class LeaseLost(Exception):
    """This worker no longer holds the lease of a channel it was polling."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One row of the lease table, for ``dengar status`` and tests."""

    name: str
    holder: str
    expires_at: datetime

    @property
    def live(self) -> bool:
        """True while the lease has not expired."""
        return self.expires_at > utcnow()


def _table() -> Table:
    table: Table = ChannelLease.__table__  # type: ignore[attr-defined]
    return table


def acquire(
    engine: Engine, name: str, holder: str, ttl: float, now: datetime | None = None
) -> bool | None:
    """Take or renew the lease ``name`` for ``holder`` for ``ttl`` seconds.

    True when ``holder`` holds it afterwards: it was free, expired, or already
    ``holder``'s. One conditional UPDATE (or an INSERT racing on the primary
    key), so two workers can never both succeed. None, on PostgreSQL, when
    the row is locked by a batch in flight (:func:`fence`): nothing changed,
    and waiting would only hold this thread — the batch renews the lease of
    its own holder when it commits.
    """
    now = now or utcnow()
    table = _table()
    expires = now + timedelta(seconds=ttl)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
            try:
                with connection.begin_nested():
                    taken = _take(connection, table, name, holder, now, expires)
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                    return None
                raise
        else:  # one writer at a time: nothing to wait behind
            taken = _take(connection, table, name, holder, now, expires)
        if taken:
            return True
        exists = connection.execute(
            select(table.c.name).where(table.c.name == name)
        ).first()
        if exists is not None:
            return False
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(table).values(
                    name=name, holder=holder, expires_at=expires, acquired_at=now
                )
            )
    except IntegrityError:
        return False  # another worker inserted it first
    return True


def _take(
    connection: Connection,
    table: Table,
    name: str,
    holder: str,
    now: datetime,
    expires: datetime,
) -> int:
    return int(
        connection.execute(
            update(table)
            .where(
                table.c.name == name,
                (table.c.holder == holder) | (table.c.expires_at <= now),
            )
            .values(holder=holder, expires_at=expires)
        ).rowcount
    )


def release(engine: Engine, name: str, holder: str) -> None:
    """Give up ``name`` if ``holder`` holds it (a clean shutdown)."""
    table = _table()
    with engine.begin() as connection:
        connection.execute(
            delete(table).where(table.c.name == name, table.c.holder == holder)
        )


def fence(session: Session, name: str, holder: str, ttl: float) -> None:
    """Inside a batch's transaction: renew the lease ``name`` for ``ttl``
    seconds from now, or raise ``LeaseLost`` when ``holder`` no longer holds
    it. The UPDATE locks the lease row until the batch commits, so a worker
    that lost its lease (paused, partitioned) cannot commit over its
    successor, and a worker busy with batches keeps its channel even while
    its renewal job waits (see :func:`acquire`)."""
    table = _table()
    renewed = session.execute(
        update(table)
        .where(table.c.name == name, table.c.holder == holder)
        .values(expires_at=utcnow() + timedelta(seconds=ttl))
    )
    if not renewed.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(f"lease {name!r} is held by another worker")


def leases(engine: Engine) -> list[Lease]:
    """Every lease and worker heartbeat, by name."""
    table = _table()
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.name, table.c.holder, table.c.expires_at).order_by(
                table.c.name
            )
        ).all()
    return [Lease(r.name, r.holder, r.expires_at) for r in rows]


def live_workers(engine: Engine, now: datetime | None = None) -> int:
    """How many workers renewed their heartbeat in time (at least 1: us)."""
    now = now or utcnow()
    count = sum(
        1
        for lease in leases(engine)
        if lease.name.startswith(WORKER_PREFIX) and lease.expires_at > now
    )
    return max(1, count)


def fair_share(channels: int, workers: int) -> int:
    """How many channels one of ``workers`` live workers should hold."""
    return math.ceil(channels / max(1, workers)) if channels else 0


class LeaseKeeper:
    """One worker's leases: heartbeat, renew what it holds, take its share of
    free or expired channels, give back extras when more workers are alive."""

    def __init__(
        self, engine: Engine, holder: str, channels: list[str], ttl: float
    ) -> None:
        self.engine = engine
        self.holder = holder
        self.channels = list(channels)
        self.ttl = ttl
        self.held: set[str] = set()
        # held beyond our share but mid-poll: no new poll starts for them,
        # and the next beat gives them back
        self.yielding: set[str] = set()

    def beat(self, busy: frozenset[str] = frozenset()) -> set[str]:
        """Renew, take and give back leases; the channels held afterwards.

        ``busy`` channels are mid-poll: one to give back is marked
        :attr:`yielding` instead, and given back once its poll ended (a
        channel under constant load is never idle at the instant of a beat)."""
        acquire(self.engine, WORKER_PREFIX + self.holder, self.holder, self.ttl)
        share = fair_share(len(self.channels), live_workers(self.engine))
        for name in sorted(self.held):
            # None: our own batch holds the row and renews it at its commit
            if acquire(self.engine, name, self.holder, self.ttl) is False:
                self.held.discard(name)
        self.yielding &= self.held
        excess = len(self.held) - share
        if excess <= 0:
            self.yielding.clear()
        for name in sorted(self.held, key=lambda n: (n not in self.yielding, n)):
            if excess <= 0:
                break
            excess -= 1
            if name in busy:
                self.yielding.add(name)
            else:
                release(self.engine, name, self.holder)
                self.held.discard(name)
                self.yielding.discard(name)
        for name in self.channels:
            if len(self.held) >= share:
                break
            if name not in self.held and acquire(
                self.engine, name, self.holder, self.ttl
            ):
                self.held.add(name)
        return set(self.held)

    def may_poll(self, name: str) -> bool:
        """True while this worker holds ``name`` and is not giving it back."""
        return name in self.held and name not in self.yielding

    def release_all(self) -> None:
        """Give every lease and the heartbeat back (clean shutdown), so the
        other workers take over at once instead of after the lease time."""
        for name in [*self.held, WORKER_PREFIX + self.holder]:
            release(self.engine, name, self.holder)
        self.held.clear()
