"""Loading a claimed outbox batch with everything its deliveries need, in a
fixed number of queries whatever the batch's size."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from config.settings import Settings
from dispatcher.message import (
    DISPATCHED,
    CaseExtras,
    CaseRecord,
    compose_message,
    load_extras,
    redaction_of,
)
from dispatcher.outbox import queue as outbox
from dispatcher.outbox.drain_types import CASE_FIELDS, ROW_FIELDS, Claimed, Job
from dispatcher.sinks.base import Delivery, Sink
from storage.attachments import read_attachment
from storage.batch_sql import among
from storage.tables import AttachmentRow, ComplaintRow, OutboxRow

# the worker's logger: log filters set up for it keep catching these
log = logging.getLogger("dispatcher.worker")


@contextmanager
def reading(engine: Engine, sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only."""
    # PostgreSQL: the loads need no transaction of their own, and without
    # one BEGIN and ROLLBACK are two round trips fewer. SQLite is local
    # (and its engine makes every transaction BEGIN IMMEDIATE).
    if engine.dialect.name != "postgresql":
        with sessions() as session:
            yield session
        return
    with (
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        sessions(bind=connection) as session,
    ):
        yield session


def load_batch(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    sinks: Mapping[str, Sink],
    ids: list[int],
) -> list[Job]:
    """A job for each claimed row of ``ids``: its delivery, or why none can
    be made (an unknown agency, a missing case, a message that fails)."""
    # a fixed number of queries for the whole batch: rows with their
    # cases as plain records (ORM objects would cost more than the rest
    # of the load), then the cases' files, follow-ups and supporters
    jobs: list[Job] = []
    dialect = engine.dialect.name
    rows_t = OutboxRow.__table__  # type: ignore[attr-defined]
    cases_t = ComplaintRow.__table__  # type: ignore[attr-defined]
    with reading(engine, sessions) as session:
        found = session.execute(
            select(
                *(rows_t.c[name] for name in ROW_FIELDS),
                *(cases_t.c[name].label(f"case_{name}") for name in CASE_FIELDS),
            )
            .select_from(rows_t)
            .join(cases_t, cases_t.c.id == rows_t.c.complaint_id, isouter=True)
            .where(among(dialect, rows_t.c.id, ids))
            .order_by(rows_t.c.id)
        ).all()
        rows: list[Claimed] = []
        cases: dict[int, CaseRecord] = {}
        split = len(ROW_FIELDS)
        for values in found:
            row = Claimed(*values[:split])
            rows.append(row)
            if values[split] is not None:  # the case's id: it exists
                cases[row.id] = CaseRecord(*values[split:])
        case_ids = {r.complaint_id for r in rows if r.kind == outbox.KIND_AGENCY}
        extras = load_extras(session, case_ids)
        for row in rows:
            if row.kind != outbox.KIND_AGENCY:
                jobs.append(Job(row, skip=_not_again(row)))
                continue
            if row.target not in sinks:
                problem = f"no agency {row.target!r} in config"
                jobs.append(Job(row, problem=problem, permanent=True))
                continue
            try:
                delivery = _delivery_for(settings, row, cases.get(row.id), extras)
                jobs.append(Job(row, delivery=delivery))
            except Exception as exc:
                log.exception("cannot build the message of outbox row %s", row.id)
                jobs.append(Job(row, problem=f"{type(exc).__name__}: {exc}"))
    return jobs


# A citizen message has no idempotency key: each send whose outcome a dead
# worker never recorded may have reached the citizen. After two such sends
# the message is not sent a third time (it most likely arrived twice).
MAX_UNCONFIRMED_SENDS = 2


def _not_again(row: Claimed) -> str | None:
    if row.unconfirmed_sends < MAX_UNCONFIRMED_SENDS:
        return None
    log.warning(
        "reply outbox row %s not sent again: %d sends were cut off by a crash",
        row.id,
        row.unconfirmed_sends,
    )
    return (
        f"not sent again: {row.unconfirmed_sends} earlier sends were cut off "
        "by a crash before their outcome was recorded (the citizen most "
        "likely has the message)"
    )


def _delivery_for(
    settings: Settings,
    row: Claimed,
    complaint: CaseRecord | None,
    extras: Mapping[int, CaseExtras],
) -> Delivery:
    if complaint is None:
        raise LookupError(f"case {row.complaint_id} not found")
    agency = settings.agency(row.target)
    found = extras[row.complaint_id]
    # built now, not when queued: what the citizen chose or added while the
    # row waited (the confirmation window, a retry) is what the agency gets
    message = compose_message(complaint, found, agency.code, agency.name)
    request = json.loads(row.payload) if row.payload else {}
    event = str(request.get("event") or DISPATCHED)
    if event != DISPATCHED:
        message = redaction_of(
            message,
            str(request.get("previous") or "biasa"),
            datetime.fromisoformat(str(request["requested_at"])),
        )
    message["idempotency_key"] = row.idempotency_key
    return Delivery(
        idempotency_key=row.idempotency_key,
        agency_code=agency.code,
        message=message,
        attachments=_file_bytes(found.attachments),
        event=event,
    )


def _file_bytes(rows: list[AttachmentRow]) -> dict[str, bytes]:
    """The bytes of a case's kept files by sha256, from the database or, with
    ``attachments.storage: disk``, from their files."""
    files: dict[str, bytes] = {}
    for row in rows:
        if row.sha256 in files:
            continue
        try:
            data = read_attachment(row)
        except OSError as exc:
            # the file went missing on disk: the mail still goes, listing it
            log.warning(
                "attachment %s of case %s cannot be read (%s); sent without it",
                row.id,
                row.complaint_id,
                exc.strerror or type(exc).__name__,
            )
            continue
        if data is not None:
            files[row.sha256] = data
    return files
