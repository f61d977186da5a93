"""Status changes: allowed transitions, the record kept, who is told."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlmodel import select

from config.settings import Settings
from contracts.records import CaseStatus
from dengar.cli.case import case as case_command
from dispatcher.status import StatusChangeError, change_status, check_transition
from storage.tables import AuditEvent, ComplaintRow, StatusEvent
from tests.unit.dispatcher.test_message_schema import add_case, sqlite_sessions

S = CaseStatus


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


class Told:
    """A notify callable that remembers (channel, address, text)."""

    def __init__(self):
        self.calls = []

    def __call__(self, row, text):
        self.calls.append(
            (row.channel, row.reporter_email or row.reporter_chat_id, text)
        )


def _telegram(**fields):
    values = {
        "channel": "telegram",
        "reporter_email": None,
        "reporter_phone": None,
        "reporter_chat_id": "5550001",
        "reporter_name": "Andi",
        "raw_format": "json",
    }
    values.update(fields)
    return values


def test_status_change_is_recorded_and_the_reporter_told(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        event = change_status(
            session,
            case,
            S.IN_PROGRESS,
            "regu 2; alat berat dari gudang Stagen",
            "cli:budi",
            told,
            message="Tim sudah ke lokasi",
        )
        session.commit()
        case_id = case.id
        number = case.tracking_no

    with sessions() as session:
        assert session.get(ComplaintRow, case_id).status == "in_progress"
        [stored] = session.exec(select(StatusEvent)).all()
    assert stored.id == event.id
    assert (stored.status, stored.note, stored.actor) == (
        "in_progress",
        "regu 2; alat berat dari gudang Stagen",
        "cli:budi",
    )
    assert stored.created_at.tzinfo is not None
    [(channel, address, text)] = told.calls
    assert (channel, address) == ("email-pengaduan", "siti@warga.example")
    assert number in text
    assert "sedang ditindaklanjuti" in text
    assert "Tim sudah ke lokasi" in text
    # the internal note never reaches the citizen
    assert "regu 2" not in text
    assert "Stagen" not in text


def test_an_agency_note_on_bukan_wewenang_never_reaches_the_citizen(sessions):
    told = Told()
    note = "wewenang Inspektorat / Tim Saber Pungli, bukan Disdukcapil"
    with sessions() as session:
        case = add_case(session, agency_code="DISDUKCAPIL")
        change_status(session, case, S.REROUTED, note, "agency:DISDUKCAPIL", told)
    [(_, _, text)] = told.calls
    assert "dialihkan ke instansi lain" in text
    assert "Inspektorat" not in text


def test_a_rejection_tells_why_with_regret_and_the_next_step(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        change_status(
            session,
            case,
            S.REJECTED,
            "pelapor sama dengan kasus lama",
            "cli:budi",
            told,
            message="Lokasi yang disebutkan berada di luar wilayah kabupaten.",
        )
        number = case.tracking_no
    [(_, _, text)] = told.calls
    assert "Alasan: Lokasi yang disebutkan berada di luar wilayah" in text
    assert "Mohon maaf" in text
    assert f"menyebutkan nomor {number}" in text  # the next step
    assert "kasus lama" not in text


def test_duplicates_and_other_follow_up_reporters_are_told_once_each(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        dup = add_case(session, duplicate_of_id=case.id, **_telegram())
        # the same Telegram user reported twice: told once
        add_case(session, duplicate_of_id=case.id, **_telegram())
        # the original reporter adding detail: not told twice
        add_case(session, kind="follow_up", tracking_no=None, follow_up_of_id=case.id)
        # a neighbour replying in the thread: told too
        add_case(
            session,
            kind="follow_up",
            tracking_no=None,
            follow_up_of_id=case.id,
            reporter_email="tetangga@warga.example",
        )
        # nobody reachable: skipped
        add_case(
            session,
            duplicate_of_id=case.id,
            reporter_email=None,
            reporter_phone=None,
            reporter_name=None,
        )
        change_status(session, case, S.RESOLVED, None, "agency:PUPR", told)
        numbers = (case.tracking_no, dup.tracking_no)

    addresses = [(c, a) for c, a, _ in told.calls]
    assert addresses == [
        ("email-pengaduan", "siti@warga.example"),
        ("telegram", "5550001"),
        ("email-pengaduan", "tetangga@warga.example"),
    ]
    texts = [t for _, _, t in told.calls]
    assert numbers[0] in texts[0]
    assert numbers[1] in texts[1]  # the number that reporter was given
    assert numbers[0] in texts[2]
    assert all("selesai ditindaklanjuti" in t for t in texts)


def test_rerouted_goes_back_to_triage_with_the_reason(sessions):
    with sessions() as session:
        case = add_case(session, agency_code="PUPR")
        change_status(
            session,
            case,
            S.REROUTED,
            "Bukan wewenang: jalan provinsi",
            "agency:PUPR",
            Told(),
        )
        assert case.status == "rerouted"
        assert case.agency_code is None
        assert "Bukan wewenang: jalan provinsi" in case.routing_reason
        assert "PUPR" in case.routing_reason


@pytest.mark.parametrize(
    ("current", "new", "note", "message"),
    [
        ("closed", S.IN_PROGRESS, None, "final"),
        ("dispatched", S.REJECTED, None, "needs a message to the reporter"),
        ("dispatched", S.REJECTED, "internal only", "needs a message"),
        ("dispatched", S.REROUTED, None, "needs a note"),
        ("dispatched", S.DISPATCHED, None, "already dispatched"),
        ("received", S.CLOSED, None, "cannot become closed"),
        ("resolved", S.DISPATCHED, None, "allowed: closed, in_progress"),
        ("entah", S.CLOSED, None, "unknown status"),
    ],
)
def test_forbidden_transitions_say_why(current, new, note, message):
    with pytest.raises(StatusChangeError, match=message):
        check_transition(current, new, note)


@pytest.mark.parametrize(
    ("current", "new", "note"),
    [
        ("dispatched", S.IN_PROGRESS, None),
        ("in_progress", S.RESOLVED, None),
        ("resolved", S.CLOSED, None),
        ("resolved", S.IN_PROGRESS, "Warga melapor masih rusak"),
        ("triage", S.DISMISSED, None),
        ("rejected", S.VERIFIED, "Banding diterima"),
    ],
)
def test_allowed_transitions(current, new, note):
    check_transition(current, new, note)


def test_a_rejection_with_a_message_is_allowed():
    check_transition("dispatched", S.REJECTED, None, "Laporan tidak lengkap")


def test_refused_change_records_nothing_and_tells_nobody(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session, status="closed")
        with pytest.raises(StatusChangeError):
            change_status(session, case, S.IN_PROGRESS, None, "cli:budi", told)
        assert session.exec(select(StatusEvent)).all() == []
        assert case.status == "closed"
    assert told.calls == []


def test_follow_up_has_no_status_of_its_own(sessions):
    with sessions() as session:
        case = add_case(session)
        follow = add_case(
            session, kind="follow_up", tracking_no=None, follow_up_of_id=case.id
        )
        with pytest.raises(StatusChangeError, match="only a stored case"):
            change_status(session, follow, S.CLOSED, None, "cli:budi", Told())


# --- dengar case update ------------------------------------------------------


# the application's settings the CLI context carries: the tracking prefix and
# the known agencies
_SETTINGS = Settings.model_validate(
    {
        "tracking_prefix": "ADU",
        "agencies": [
            {"code": "PUPR", "name": "Dinas PUPR"},
            {"code": "DINKES", "name": "Dinas Kesehatan"},
        ],
        "routing": {"default_agency": "PUPR"},
    }
)


def _run(sessions, told, *args):
    obj = SimpleNamespace(sessions=sessions, notify=told, settings=_SETTINGS)
    return CliRunner().invoke(case_command, ["update", *args], obj=obj)


def test_cli_update_changes_status_and_notifies_after_commit(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        session.commit()
    # typed in lower case without hyphens, O for 0: still found
    typed = case.tracking_no.lower().replace("-", "").replace("0", "o")
    result = _run(
        sessions,
        told,
        typed,
        "--status",
        "in_progress",
        "--note",
        "regu 2",
        "--message",
        "Dicek",
    )

    assert result.exit_code == 0, result.output
    assert f"{case.tracking_no}: dispatched -> in_progress" in result.output
    with sessions() as session:
        assert session.get(ComplaintRow, case.id).status == "in_progress"
        [event] = session.exec(select(StatusEvent)).all()
    assert event.actor.startswith("cli:")
    assert event.note == "regu 2"
    [(_, _, text)] = told.calls
    assert "Dicek" in text
    assert "regu 2" not in text


def test_cli_rejects_without_note_and_changes_nothing(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        session.commit()
    result = _run(sessions, told, case.tracking_no, "--status", "rejected")
    assert result.exit_code == 1
    assert "rejected needs a message to the reporter" in result.output
    with sessions() as session:
        assert session.get(ComplaintRow, case.id).status == "dispatched"
    assert told.calls == []


def test_cli_unknown_case_and_bad_status(sessions):
    told = Told()
    result = _run(sessions, told, "ADU-0000-0000", "--status", "closed")
    assert result.exit_code == 1
    assert "no case ADU-0000-0000" in result.output
    result = _run(sessions, told, "ADU-0000-0000", "--status", "selesai")
    assert result.exit_code == 2
    assert "selesai" in result.output


# --- status messages from an agency ---------------------------------------------


def _apply(session, body, told, agency="PUPR"):
    from dispatcher.status import apply_status_message

    return apply_status_message(
        session, body, agency_code=agency, tracking_prefix="ADU", notify=told
    )


def test_agency_status_message_is_applied_and_told(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        body = json.dumps(
            {
                "tracking_no": case.tracking_no.lower(),
                "status": "resolved",
                "note": "tambalan sementara, aspal ulang Januari",
                "message": "Lubang sudah ditambal",
            }
        ).encode()
        event = _apply(session, body, told)
        assert event is not None
        assert event.actor == "agency:PUPR"
        assert case.status == "resolved"
    [(_, _, text)] = told.calls
    assert "Lubang sudah ditambal" in text
    assert "Januari" not in text


def test_a_redelivered_status_message_is_a_no_op(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session)
        body = {
            "tracking_no": case.tracking_no,
            "status": "rerouted",
            "note": "Bukan wewenang: jalan nasional",
        }
        assert _apply(session, body, told) is not None
        assert _apply(session, body, told) is None
        assert len(session.exec(select(StatusEvent)).all()) == 1
    assert len(told.calls) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        ({"status": "resolved"}, "no 'tracking_no'"),
        ({"tracking_no": "{no}"}, "no 'status'"),
        ({"tracking_no": "{no}", "status": "beres"}, "unknown status 'beres'"),
        ({"tracking_no": "{no}", "status": "closed"}, "cannot set 'closed'"),
        ({"tracking_no": "ADU-ZZZZ", "status": "resolved"}, "not a tracking number"),
        (
            {"tracking_no": "ADU-0000-0000", "status": "resolved"},
            "no case ADU-0000-0000",
        ),
        ({"tracking_no": "{no}", "status": "rejected"}, "needs a message"),
        ({"tracking_no": "{no}", "status": "rerouted"}, "needs a note"),
        (
            {"tracking_no": "{no}", "status": "resolved", "message": 5},
            "'message' must be text",
        ),
        (
            {"tracking_no": "{no}", "status": "resolved", "note": 5},
            "'note' must be text",
        ),
    ],
)
def test_bad_status_messages_say_why_and_change_nothing(sessions, body, message):
    from dispatcher.status import StatusMessageError

    told = Told()
    with sessions() as session:
        case = add_case(session)
        if isinstance(body, dict):
            body = {
                k: (v.format(no=case.tracking_no) if isinstance(v, str) else v)
                for k, v in body.items()
            }
        with pytest.raises(StatusMessageError, match=message):
            _apply(session, body, told)
        assert case.status == "dispatched"
    assert told.calls == []


def test_an_agency_cannot_update_another_agencys_case(sessions):
    from dispatcher.status import StatusMessageError

    with sessions() as session:
        case = add_case(session, agency_code="DINKES")
        with pytest.raises(StatusMessageError, match="not assigned to PUPR"):
            _apply(
                session, {"tracking_no": case.tracking_no, "status": "resolved"}, Told()
            )
        assert case.status == "dispatched"


# --- dispatched needs an agency -------------------------------------------------


def test_dispatched_is_refused_for_a_case_with_no_agency(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session, status="triage", agency_code=None)
        with pytest.raises(StatusChangeError, match="no agency"):
            change_status(session, case, S.DISPATCHED, None, "cli:budi", told)
        assert case.status == "triage"
        assert session.exec(select(StatusEvent)).all() == []
    assert told.calls == []


def test_cli_dispatched_without_agency_is_refused_and_nobody_told(sessions):
    told = Told()
    with sessions() as session:
        case = add_case(session, status="rerouted", agency_code=None)
        session.commit()
    result = _run(sessions, told, case.tracking_no, "--status", "dispatched")
    assert result.exit_code == 1
    assert "no agency" in result.output
    assert "--agency" in result.output
    with sessions() as session:
        assert session.get(ComplaintRow, case.id).status == "rerouted"
        assert session.exec(select(StatusEvent)).all() == []
    assert told.calls == []


def _run_with_agencies(sessions, told, queued, *args):
    obj = SimpleNamespace(
        sessions=sessions,
        notify=told,
        enqueue=lambda session, row: queued.append((row.id, row.agency_code)),
        settings=_SETTINGS,
    )
    return CliRunner().invoke(case_command, ["update", *args], obj=obj)


def test_cli_dispatched_with_agency_assigns_queues_and_tells(sessions):
    told, queued = Told(), []
    with sessions() as session:
        case = add_case(session, status="triage", agency_code=None)
        session.commit()
    result = _run_with_agencies(
        sessions,
        told,
        queued,
        case.tracking_no,
        "--status",
        "dispatched",
        "--agency",
        "pupr",
        "--actor",
        "cli:ani",
    )
    assert result.exit_code == 0, result.output
    assert "triage -> dispatched (agency - -> PUPR)" in result.output
    assert queued == [(case.id, "PUPR")]
    with sessions() as session:
        row = session.get(ComplaintRow, case.id)
        assert (row.status, row.agency_code) == ("dispatched", "PUPR")
        notes = [e.note for e in session.exec(select(StatusEvent)).all()]
        audited = [
            (e.actor, e.action, e.target, e.detail)
            for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        ]
    # the admin's /audit shows both, as it shows the dashboard's Alihkan
    assert audited == [
        ("cli:ani", "case_reroute", case.tracking_no, "- -> PUPR"),
        ("cli:ani", "case_status", case.tracking_no, "triage -> dispatched"),
    ]
    assert any("PUPR" in (n or "") for n in notes)
    [(_, _, text)] = told.calls
    assert "diteruskan" in text


def test_cli_agency_must_be_known_and_goes_with_dispatched_only(sessions):
    told, queued = Told(), []
    with sessions() as session:
        case = add_case(session, status="triage", agency_code=None)
        session.commit()
    result = _run_with_agencies(
        sessions,
        told,
        queued,
        case.tracking_no,
        "--status",
        "dispatched",
        "--agency",
        "DINSOS",
    )
    assert result.exit_code == 2
    assert "unknown agency 'DINSOS' (known: DINKES, PUPR)" in result.output
    result = _run_with_agencies(
        sessions,
        told,
        queued,
        case.tracking_no,
        "--status",
        "received",
        "--agency",
        "PUPR",
    )
    assert result.exit_code == 2
    assert "--agency goes with --status dispatched only" in result.output
    with sessions() as session:
        assert session.get(ComplaintRow, case.id).status == "triage"
    assert (told.calls, queued) == ([], [])


def test_a_deeply_nested_status_message_is_refused_with_the_reason(sessions):
    from dispatcher.status import StatusMessageError

    with sessions() as session, pytest.raises(StatusMessageError, match="too deep"):
        _apply(session, "[" * 100_000 + "]" * 100_000, Told())


def test_cli_counts_only_queued_messages_and_names_who_cannot_be_told(sessions):
    """A Maildir reporter cannot be answered: counted out, named with why."""
    with sessions() as session:
        case = add_case(session)
        dup = add_case(session, duplicate_of_id=case.id, channel="contoh-maildir")
        session.commit()
    sent = []

    def notify(row, text):
        if row.channel == "contoh-maildir":
            return False
        sent.append(row.id)
        return True

    obj = SimpleNamespace(
        sessions=sessions,
        notify=notify,
        settings=_SETTINGS,
        unreachable=lambda row: f"channel {row.channel!r} (maildir) cannot send",
    )
    result = CliRunner().invoke(
        case_command,
        ["update", str(case.tracking_no), "--status", "in_progress"],
        obj=obj,
    )
    assert result.exit_code == 0, result.output
    assert "1 message(s) queued" in result.output
    assert f"not told: {dup.tracking_no}: channel 'contoh-maildir'" in result.output
    assert sent == [case.id]
