"""The duplicate index of a running process follows what the database holds
while two channels store their batches at once and one of them rolls back.

Channel ``b`` stores a case, then its commit fails (the database went away
at that instant); channel ``a`` stores its batch meanwhile and commits. The
index must then know ``a``'s committed case (a later report of the same
problem is linked to it) and not ``b``'s case, which is in no table (a
later report of that problem opens a case of its own, linked to nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from config.loader import parse_settings
from contracts.channel import FetchResult
from contracts.records import InboundMessage
from dengar.app import App
from storage.tables import ComplaintRow

BRIDGE = "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar"
BRIDGE_AGAIN = "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg"
POTHOLE = "Jalan Berangas depan SDN 3 berlubang besar, bahaya buat motor"
POTHOLE_AGAIN = "jalan berangas depan sdn 3 berlubang besar!! bahaya buat motor"
WAIT = 30  # seconds; only a hang would ever reach it

CONFIG = """
database_url: {url}
tracking_prefix: ADU
channels:
  - {{name: a, type: maildir, path: {root}/a}}
  - {{name: b, type: maildir, path: {root}/b}}
agencies:
  - {{code: PUPR, name: Dinas PUPR}}
routing:
  default_agency: PUPR
"""


def _mail(channel: str, n: int, sender: str, text: str) -> InboundMessage:
    mail = EmailMessage()
    mail["From"] = f"{sender}@warga.example"
    mail["To"] = "pengaduan@kab.example.go.id"
    mail["Subject"] = "Pengaduan"
    mail["Message-ID"] = f"<{channel}-{n}@warga.example>"
    mail.set_content(text)
    return InboundMessage(
        channel=channel,
        external_id=f"{channel}-{n}",
        received_at=datetime.now(UTC),
        raw=mail.as_bytes(),
        raw_format="rfc822",
    )


def _batch(channel: str, n: int, sender: str, text: str) -> FetchResult:
    return FetchResult(items=[_mail(channel, n, sender, text)], cursor=str(n))


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _case(session: Session, external_id: str) -> ComplaintRow:
    return session.exec(
        select(ComplaintRow).where(ComplaintRow.external_id == external_id)
    ).one()


@pytest.mark.postgres
def test_a_rolled_back_batch_leaves_the_other_channels_cases_indexed(
    postgres_url: str, tmp_path: Path
) -> None:
    # PostgreSQL: there two channels' transactions are open at once (SQLite
    # takes its write lock at BEGIN, so one batch waits for the other)
    app = App.open(parse_settings(CONFIG.format(url=postgres_url, root=tmp_path)))
    app.enable_dedupe()
    b_stored_its_case = threading.Event()
    a_committed = threading.Event()
    threads: dict[str, str] = {}

    def of(name: str) -> bool:
        return threads.get(threading.current_thread().name) == name

    def after_commit(session: Session) -> None:
        if of("a"):
            a_committed.set()

    def before_commit(session: Session) -> None:
        if of("b"):
            b_stored_its_case.set()
            assert a_committed.wait(WAIT)
            raise OperationalError("COMMIT", {}, Exception("connection lost"))

    def store(channel: str, batch: FetchResult) -> Callable[[], Any]:
        def run() -> Any:
            threads[threading.current_thread().name] = channel
            return app.store(channel, batch)

        return run

    event.listen(app.sessions, "after_commit", after_commit)
    event.listen(app.sessions, "before_commit", before_commit)
    try:
        b, b_outcome = _in_thread(store("b", _batch("b", 1, "budi", BRIDGE)))
        assert b_stored_its_case.wait(WAIT)
        a, a_outcome = _in_thread(store("a", _batch("a", 1, "ani", POTHOLE)))
        a.join(WAIT)
        b.join(WAIT)
    finally:
        event.remove(app.sessions, "after_commit", after_commit)
        event.remove(app.sessions, "before_commit", before_commit)
    try:
        assert isinstance(b_outcome[0], OperationalError)  # the outage is raised
        assert a_outcome[0].new_cases == 1
        # later reports, from other people, of both problems
        app.store("a", _batch("a", 2, "citra", POTHOLE_AGAIN))
        app.store("a", _batch("a", 3, "dedi", BRIDGE_AGAIN))
        with app.sessions() as session:
            stored = session.exec(select(ComplaintRow.external_id)).all()
            assert sorted(stored) == ["a-1", "a-2", "a-3"]
            pothole = _case(session, "a-1")
            assert _case(session, "a-2").duplicate_of_id == pothole.id
            assert _case(session, "a-3").duplicate_of_id is None
    finally:
        app.engine.dispose()


def test_reports_of_one_problem_in_one_batch_are_linked(
    database_url: str, tmp_path: Path
) -> None:
    # the batch's cases reach the shared index only after its commit: the
    # batch links its own reports meanwhile
    app = App.open(parse_settings(CONFIG.format(url=database_url, root=tmp_path)))
    app.enable_dedupe()
    try:
        first = _mail("a", 1, "ani", BRIDGE)
        again = _mail("a", 2, "budi", BRIDGE_AGAIN)
        summary = app.store("a", FetchResult(items=[first, again], cursor="2"))
        assert (summary.new_cases, summary.linked) == (2, 1)
        app.store("a", _batch("a", 3, "citra", BRIDGE))  # the next batch
        with app.sessions() as session:
            bridge = _case(session, "a-1")
            assert bridge.duplicate_of_id is None
            assert _case(session, "a-2").duplicate_of_id == bridge.id
            assert _case(session, "a-3").duplicate_of_id == bridge.id
    finally:
        app.engine.dispose()
