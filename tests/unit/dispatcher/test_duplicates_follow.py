"""Linked duplicates follow their primary (issue 16, item 7): its status and
agency, with no SLA clock of their own, never acted on separately, and the
agency sees the problem once with its supporters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from config.web_settings import SlaSettings
from contracts.channel import FetchResult
from contracts.records import CaseStatus, InboundMessage
from dengar.app import App
from dengar.sla import SlaPolicy, auto_close
from dengar.status_report import agency_queue
from dengar.web.views import clocks
from dispatcher.message import build_message
from dispatcher.status import (
    DuplicateCaseError,
    StatusChangeError,
    apply_status_message,
    change_status,
)
from storage.tables import AgencyQueueRow, ComplaintRow, StatusEvent
from tests.unit.dispatcher.test_message_schema import VALIDATOR, sqlite_sessions

S = CaseStatus
WHEN = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "d.db")


def case(session, number, minutes, **fields):
    values = {
        "kind": "case",
        "tracking_no": number,
        "channel": "bot",
        "external_id": f"ext-{number}",
        "received_at": WHEN + timedelta(minutes=minutes),
        "reporter_chat_id": number,
        "original_text": "Jembatan Desa Semayap ambruk",
        "clean_text": "Jembatan Desa Semayap ambruk",
        "status": "received",
        "agency_code": "PUPR",
        "raw_format": "json",
    }
    values.update(fields)
    row = ComplaintRow(**values)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def linked(sessions):
    """A primary with two duplicates, one by mail routed elsewhere."""
    with sessions() as s:
        primary = case(s, "ADU-AAAA-0001", 0, status="dispatched")
        case(s, "ADU-AAAA-0002", 30, duplicate_of_id=primary.id)
        case(
            s,
            "ADU-AAAA-0003",
            90,
            channel="surat",
            reporter_chat_id=None,
            reporter_email="warga@example.id",
            agency_code="DISKOMINFO",
            duplicate_of_id=primary.id,
        )
        s.commit()
    return sessions


def load(sessions, number):
    with sessions() as s:
        return s.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()


def change(sessions, number, status, note=None, actor="cli:budi"):
    told: list[tuple[str, str]] = []
    with sessions() as s:
        row = s.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        change_status(
            s,
            row,
            status,
            note,
            actor,
            lambda r, text: told.append((r.tracking_no, text)),
        )
        s.commit()
    return told


def test_duplicates_follow_every_change_and_each_reporter_hears_it_once(linked):
    told = change(linked, "ADU-AAAA-0001", S.IN_PROGRESS, "tim ke lokasi")
    assert sorted(number for number, _ in told) == [
        "ADU-AAAA-0001",
        "ADU-AAAA-0002",
        "ADU-AAAA-0003",
    ]
    for number in ("ADU-AAAA-0002", "ADU-AAAA-0003"):
        row = load(linked, number)
        assert (row.status, row.agency_code) == ("in_progress", "PUPR")
    told = change(linked, "ADU-AAAA-0001", S.RESOLVED, "jembatan sudah diperbaiki")
    assert len(told) == 3
    assert {load(linked, f"ADU-AAAA-000{n}").status for n in (1, 2, 3)} == {"resolved"}
    with linked() as s:
        events = s.exec(
            select(StatusEvent)
            .where(StatusEvent.complaint_id == load(linked, "ADU-AAAA-0002").id)
            .order_by(StatusEvent.id)
        ).all()
    assert [e.status for e in events] == ["in_progress", "resolved"]
    assert events[-1].note == (
        "mengikuti pengaduan utama ADU-AAAA-0001: jembatan sudah diperbaiki"
    )


def test_staff_cannot_verify_a_duplicate_after_its_reporter_heard_selesai(linked):
    change(linked, "ADU-AAAA-0001", S.RESOLVED, "sudah diperbaiki")
    with pytest.raises(DuplicateCaseError) as refused:
        change(linked, "ADU-AAAA-0002", S.VERIFIED)
    message = str(refused.value)
    assert "ADU-AAAA-0002 adalah duplikat dari ADU-AAAA-0001" in message
    assert "lepas tautan" in message
    assert isinstance(refused.value, StatusChangeError)  # every caller catches it
    assert load(linked, "ADU-AAAA-0002").status == "resolved"


def test_a_duplicate_has_no_sla_clock_and_closes_with_its_primary(linked):
    policy = SlaPolicy(SlaSettings(), "Asia/Makassar")
    now = WHEN + timedelta(days=1)
    with linked() as s:
        rows = list(s.exec(select(ComplaintRow).order_by(ComplaintRow.id)))
        running = clocks(s, policy, rows, now)
    assert set(running) == {rows[0].id}
    change(linked, "ADU-AAAA-0001", S.RESOLVED, "sudah diperbaiki")
    with linked() as s:
        closed = auto_close(
            s, policy, datetime.now(UTC) + timedelta(days=60), lambda *_: None
        )
        s.commit()
    assert closed == ["ADU-AAAA-0001"]
    assert {load(linked, f"ADU-AAAA-000{n}").status for n in (1, 2, 3)} == {"closed"}


def test_an_agency_status_on_a_duplicates_number_is_applied_to_the_primary(linked):
    with linked() as s:
        event = apply_status_message(
            s,
            {"tracking_no": "ADU-AAAA-0003", "status": "in_progress"},
            agency_code="PUPR",
            tracking_prefix="ADU",
            notify=lambda *_: None,
        )
        s.commit()
    assert event is not None
    assert event.complaint_id == load(linked, "ADU-AAAA-0001").id
    assert load(linked, "ADU-AAAA-0003").status == "in_progress"


def test_rerouting_the_primary_takes_its_duplicates_along(linked):
    change(linked, "ADU-AAAA-0001", S.REROUTED, "bukan wewenang PUPR")
    for n in (1, 2, 3):
        row = load(linked, f"ADU-AAAA-000{n}")
        assert (row.status, row.agency_code) == ("rerouted", None)


def test_the_agency_message_carries_the_supporters_with_channels_and_dates(linked):
    with linked() as s:
        primary = load(linked, "ADU-AAAA-0001")
        message = build_message(s, primary, "PUPR", "Dinas PUPR")
    VALIDATOR.validate(message)
    assert message["supporters"] == 2
    assert message["supporter_reports"] == [
        {
            "tracking_no": "ADU-AAAA-0002",
            "channel": "bot",
            "received_at": (WHEN + timedelta(minutes=30)).isoformat(),
        },
        {
            "tracking_no": "ADU-AAAA-0003",
            "channel": "surat",
            "received_at": (WHEN + timedelta(minutes=90)).isoformat(),
        },
    ]


def test_the_database_queue_shows_each_problem_once_with_its_supporters_now(
    sessions,
):
    with sessions() as s:
        primary = case(s, "ADU-AAAA-0001", 0, status="dispatched")
        later = case(s, "ADU-AAAA-0002", 30, status="dispatched")
        for row in (primary, later):  # both delivered before anyone linked them
            s.add(
                AgencyQueueRow(
                    agency_code="PUPR",
                    complaint_id=row.id,
                    idempotency_key=f"{row.tracking_no}/PUPR",
                    message=json.dumps(build_message(s, row, "PUPR", "Dinas PUPR")),
                )
            )
        later.duplicate_of_id = primary.id
        s.add(later)
        s.commit()
        [item] = agency_queue(s, "PUPR")
    assert item["tracking_no"] == "ADU-AAAA-0001"
    assert item["supporters"] == 1
    assert [r["channel"] for r in item["supporter_reports"]] == ["bot"]


def test_a_new_report_linked_at_intake_takes_its_primarys_stage(make_settings):
    app = App.open(make_settings())
    app.enable_dedupe()

    def mail(n: int, sender: str) -> InboundMessage:
        raw = (
            f"From: {sender}\nTo: pengaduan@kab.example.go.id\n"
            f"Subject: Jembatan Desa Semayap ambruk\nMessage-ID: <j{n}@x.id>\n\n"
            "Jembatan di Desa Semayap ambruk sejak kemarin, warga tidak bisa "
            "lewat ke pasar. Mohon segera diperbaiki.\n"
        ).encode()
        return InboundMessage("surat", f"f{n}", WHEN, raw, "rfc822")

    try:
        app.store("surat", FetchResult(items=[mail(1, "a@warga.id")], cursor="1"))
        with app.sessions() as s:
            primary = s.exec(select(ComplaintRow)).one()
            change_status(
                s, primary, S.IN_PROGRESS, None, "agency:PUPR", lambda *_: None
            )
            s.commit()
        summary = app.store(
            "surat", FetchResult(items=[mail(2, "b@lain.id")], cursor="2")
        )
        assert summary.linked == 1
        with app.sessions() as s:
            primary, duplicate = s.exec(
                select(ComplaintRow).order_by(ComplaintRow.id)
            ).all()
            assert duplicate.duplicate_of_id == primary.id
            assert (duplicate.status, duplicate.agency_code) == (
                "in_progress",
                primary.agency_code,
            )
            notes = s.exec(
                select(StatusEvent.note).where(StatusEvent.complaint_id == duplicate.id)
            ).all()
            assert f"mengikuti pengaduan utama {primary.tracking_no}" in notes
    finally:
        app.engine.dispose()


def test_the_agency_mail_lists_the_supporters(linked):
    from dispatcher.sinks.email import _body

    with linked() as s:
        message = build_message(s, load(linked, "ADU-AAAA-0001"), "PUPR", "PUPR")
    body = _body(message, "Dinas PUPR", "Asia/Makassar")
    assert "Laporan serupa  : 2 warga lain" in body
    # local time, as the rest of the mail: 01:30 UTC is 09:30 WITA
    assert "23-11-2026 09:30 WITA melalui bot (ADU-AAAA-0002)" in body
    assert "melalui surat (ADU-AAAA-0003)" in body
