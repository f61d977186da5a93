"""Status back from an agency's own system over HTTP, end to end: a citizen
writes to the (emulated) Telegram bot, the case goes to the agency's ticket
system (the JSON example of docs/dispatch.md, on a local fake), the ticket
number is kept and shown, and when the agency's staff move the ticket on
the citizen hears it in the same chat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from dispatcher.outbox import queue as outbox
from dispatcher.status_inbox import consume_once
from dispatcher.status_poll import failing_counts
from storage.tables import AuditEvent, ComplaintRow, OutboxRow, StatusEvent
from tests.fakes.agency_http import AgencySystem
from tests.fakes.telegram_api import FakeTelegramApi, bot_settings
from tests.integration.test_sink_http import example_agency


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


@pytest.fixture
async def system():
    async with AgencySystem() as fake:
        yield fake


@pytest.fixture
def settings(api, system, tmp_path) -> Settings:
    # confirmation_window 0: the case goes to the agency in the same run
    base = bot_settings(
        api, f"sqlite:///{tmp_path / 'dengar.db'}", confirmation_window=0
    )
    agency = example_agency("json-rest", system)
    return base.model_copy(update={"agencies": [agency]})


def _delivery(app: App) -> OutboxRow:
    with app.sessions() as session:
        return session.exec(
            select(OutboxRow).where(OutboxRow.kind == outbox.KIND_AGENCY)
        ).one()


def _case(app: App) -> ComplaintRow:
    with app.sessions() as session:
        return session.exec(select(ComplaintRow)).one()


def _age_checks(app: App, seconds: float) -> None:
    # the status interval passed (instead of waiting 15 minutes)
    with app.sessions() as session:
        for row in session.exec(select(OutboxRow)).all():
            if row.agency_checked_at is not None:
                row.agency_checked_at -= timedelta(seconds=seconds)
                session.add(row)
        session.commit()


async def test_the_citizen_hears_the_agency_systems_status(api, system, settings):
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    app = App.open(settings)
    agency = settings.agencies[0]
    try:
        await Runner(app).run_once()
        row = _delivery(app)
        assert row.status == outbox.DELIVERED
        assert row.agency_ticket == "TKT-000001"
        assert _case(app).status == "dispatched"
        acks = len(api.sent)

        # nothing new at the agency: asked, nothing changes, nobody is told
        summary = await consume_once(app, agency)
        assert (summary.applied, summary.repeated, summary.failed) == (0, 1, 0)
        # asked again before the interval: not asked at all
        assert (await consume_once(app, agency)).repeated == 0
        assert len(system.requests) == 2

        system.set_status("TKT-000001", "Diproses", "Tim sudah ke lokasi")
        _age_checks(app, 901)
        summary = await consume_once(app, agency)
        assert summary.applied == 1
        await app.worker.drain_all()
        [told] = api.sent[acks:]
        assert told.chat_id == 42
        assert "sedang ditindaklanjuti" in told.text
        assert "Tim sudah ke lokasi" in told.text
        case = _case(app)
        assert case.status == "in_progress"
        assert _delivery(app).agency_status == "Diproses"
        with app.sessions() as session:
            event = session.exec(
                select(StatusEvent).where(StatusEvent.status == "in_progress")
            ).one()
            # admins read it at /audit, as they read the agency API's changes
            [entry] = session.exec(select(AuditEvent)).all()
        assert event.actor == "agency:PUPR"
        assert (entry.actor, entry.action, entry.target, entry.detail) == (
            "agency:PUPR",
            "case_status",
            case.tracking_no,
            "dispatched -> in_progress",
        )
    finally:
        await app.close()


async def test_a_failed_status_read_never_changes_the_case(api, system, settings):
    await api.push_message(42, "Lampu jalan mati di Jl. Veteran sejak seminggu")
    app = App.open(settings)
    agency = settings.agencies[0]
    try:
        await Runner(app).run_once()
        acks = len(api.sent)
        system.set_status("TKT-000001", "Selesai")
        system.fail_next(500)
        summary = await consume_once(app, agency)
        assert (summary.applied, summary.failed) == (0, 1)
        assert _case(app).status == "dispatched"
        row = _delivery(app)
        assert "answered 500" in (row.agency_status_error or "")
        assert system.token not in (row.agency_status_error or "")
        with app.sessions() as session:
            assert failing_counts(session) == {"PUPR": 1}

        # an answer in a shape the config does not expect: still nothing
        system.tickets["TKT-000001"].status = None  # type: ignore[assignment]
        _age_checks(app, 901)
        assert (await consume_once(app, agency)).failed == 1
        assert _case(app).status == "dispatched"

        # the system answers again: the change is made, the failure cleared
        system.set_status("TKT-000001", "  SELESAI ")  # words match loosely
        _age_checks(app, 901)
        assert (await consume_once(app, agency)).applied == 1
        assert _case(app).status == "resolved"
        with app.sessions() as session:
            assert failing_counts(session) == {}
        await app.worker.drain_all()
        assert len(api.sent) == acks + 1
    finally:
        await app.close()


async def test_a_rejection_without_explanation_still_tells_the_citizen_why(
    api, system, settings
):
    await api.push_message(42, "Saluran air tersumbat di depan pasar")
    app = App.open(settings)
    agency = settings.agencies[0]
    try:
        await Runner(app).run_once()
        acks = len(api.sent)
        system.set_status("TKT-000001", "Ditolak")  # no catatan at all
        assert (await consume_once(app, agency)).applied == 1
        await app.worker.drain_all()
        [told] = api.sent[acks:]
        assert "Status pengaduan di sistem Dinas PUPR: Ditolak." in told.text
        assert _case(app).status == "rejected"
    finally:
        await app.close()


async def test_an_agency_system_that_is_down_changes_nothing(api, system, settings):
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    await api.push_message(43, "Lampu jalan mati di Jl. Veteran sejak seminggu")
    app = App.open(settings)
    agency = settings.agencies[0]
    try:
        await Runner(app).run_once()
        await system.__aexit__()  # the agency's server goes down
        summary = await consume_once(app, agency)
        assert (summary.applied, summary.failed) == (0, 2)
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow)).all()
            rows = session.exec(select(OutboxRow).where(OutboxRow.kind == "agency"))
            errors = [row.agency_status_error or "" for row in rows]
        assert {case.status for case in cases} == {"dispatched"}
        assert all("cannot connect" in error for error in errors), errors
    finally:
        await app.close()
