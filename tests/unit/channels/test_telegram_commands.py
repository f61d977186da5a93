"""The bot's chat commands (/start, /status, /baru, /anonim, /rahasia)
against a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, SQLModel, select

from config.settings import Settings
from contracts.policy import ChannelPolicy
from contracts.records import InboundMessage, Reporter
from dengar.chat_commands import handle_command
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow, OutboxRow, StatusEvent, utcnow

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def settings():
    return Settings.model_validate(
        {
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "channels": [
                {
                    "type": "telegram",
                    "name": "tg",
                    "token": "1:x",
                    "messages": {"baru": "Siap, pengaduan baru."},
                }
            ],
        }
    )


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    SQLModel.metadata.create_all(engine)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


def _case(session: Session, tracking_no: str, chat_id: str, **fields) -> ComplaintRow:
    row = ComplaintRow(
        kind="case",
        tracking_no=tracking_no,
        channel=fields.pop("channel", "tg"),
        external_id=f"msg:{chat_id}:{tracking_no}",
        received_at=fields.pop("received_at", T0),
        reporter_chat_id=chat_id,
        original_text=fields.pop("text", "Jalan berlubang di depan pasar"),
        clean_text=fields.pop("clean", "Jalan berlubang di depan pasar"),
        raw_format="json",
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def _policy(settings: Settings) -> ChannelPolicy:
    return settings.channel("tg").policy()


def _command(name: str, args: str = "", chat_id: str = "42") -> InboundMessage:
    return InboundMessage(
        channel="tg",
        external_id=f"msg:{chat_id}:99",
        received_at=T0,
        raw=b"{}",
        raw_format="json",
        text=f"/{name} {args}".strip(),
        reporter=Reporter(chat_id=chat_id),
        command=name,
        command_args=args,
    )


def test_start_explains_how_to_report(session, settings):
    text = handle_command(session, _command("start"), settings, _policy(settings))
    assert "Cara melapor" in text
    assert "ADU-XXXX-XXXX" in text
    assert "/status" in text
    assert "10 menit" in text
    assert text.startswith("Selamat datang di layanan pengaduan masyarakat.")
    assert "pengaduan pengaduan" not in text


def test_status_without_cases_says_so(session, settings):
    text = handle_command(session, _command("status"), settings, _policy(settings))
    assert "Belum ada pengaduan" in text


def test_status_lists_only_this_chats_cases_newest_first(session, settings):
    _case(session, "ADU-AAAA-1111", "42", status="received")
    _case(
        session,
        "ADU-BBBB-2222",
        "42",
        status="in_progress",
        received_at=T0 + timedelta(days=1),
    )
    _case(session, "ADU-CCCC-3333", "77")
    _case(session, "ADU-DDDD-4444", "42", channel="other-bot")
    text = handle_command(session, _command("status"), settings, _policy(settings))
    lines = text.splitlines()
    assert lines[0] == "Pengaduan Anda:"
    assert "ADU-BBBB-2222" in lines[1]
    assert "sedang ditindaklanjuti" in lines[1]
    assert "ADU-AAAA-1111" in lines[2]
    assert "diterima" in lines[2]
    assert "ADU-CCCC-3333" not in text
    assert "ADU-DDDD-4444" not in text


def test_status_of_one_number_accepts_typos_of_the_citizen(session, settings):
    _case(session, "ADU-7K3M-9Q2D", "42", status="dispatched")
    text = handle_command(
        session, _command("status", "adu7k3m9q2d"), settings, _policy(settings)
    )
    assert "ADU-7K3M-9Q2D" in text
    assert "diteruskan ke instansi" in text
    assert "Jalan berlubang" in text


def test_status_of_someone_elses_case_reveals_nothing(session, settings):
    _case(session, "ADU-7K3M-9Q2D", "77", text="rahasia orang lain", clean="x")
    text = handle_command(
        session, _command("status", "ADU-7K3M-9Q2D"), settings, _policy(settings)
    )
    assert "tidak ditemukan" in text
    assert "rahasia orang lain" not in text
    unknown = handle_command(
        session, _command("status", "ADU-0000-0000"), settings, _policy(settings)
    )
    assert unknown == text.replace("ADU-7K3M-9Q2D", "ADU-0000-0000")


def test_status_with_garbage_says_what_a_number_looks_like(session, settings):
    text = handle_command(
        session, _command("status", "jalan rusak"), settings, _policy(settings)
    )
    assert "bukan nomor pelacakan" in text
    assert "ADU-7K3M-9Q2D" in text


def test_anonim_marks_the_newest_open_case_and_confirms(session, settings):
    old = _case(session, "ADU-AAAA-1111", "42")
    closed = _case(
        session,
        "ADU-BBBB-2222",
        "42",
        status="closed",
        received_at=T0 + timedelta(days=2),
    )
    current = _case(session, "ADU-CCCC-3333", "42", received_at=T0 + timedelta(days=1))
    text = handle_command(session, _command("anonim"), settings, _policy(settings))
    assert "ADU-CCCC-3333" in text
    assert "anonim" in text
    session.flush()
    assert current.confidentiality == "anonim"
    assert old.confidentiality == "biasa"
    assert closed.confidentiality == "biasa"
    events = session.exec(
        select(StatusEvent).where(StatusEvent.complaint_id == current.id)
    ).all()
    assert [e.note for e in events] == ["confidentiality biasa -> anonim (/anonim)"]


def test_rahasia_is_never_lowered_to_anonim(session, settings):
    case = _case(session, "ADU-AAAA-1111", "42")
    assert "rahasia" in handle_command(
        session, _command("rahasia"), settings, _policy(settings)
    )
    assert case.confidentiality == "rahasia"
    text = handle_command(session, _command("anonim"), settings, _policy(settings))
    assert "sudah bersifat rahasia" in text
    assert case.confidentiality == "rahasia"


def test_anonim_without_a_case_asks_for_the_report_first(session, settings):
    text = handle_command(session, _command("anonim"), settings, _policy(settings))
    assert "Belum ada pengaduan aktif" in text
    assert "/anonim" in text


def test_baru_uses_the_channels_override(session, settings):
    assert (
        handle_command(session, _command("baru"), settings, _policy(settings))
        == "Siap, pengaduan baru."
    )


def _agency_row(session, case, **fields) -> OutboxRow:
    row = OutboxRow(
        kind="agency",
        target="PUPR",
        complaint_id=case.id,
        idempotency_key=f"{case.tracking_no}/PUPR",
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def test_a_choice_ends_the_confirmation_window(session, settings):
    case = _case(session, "ADU-AAAA-1111", "42")
    held = _agency_row(session, case, next_attempt_at=utcnow() + timedelta(minutes=2))
    text = handle_command(session, _command("anonim"), settings, _policy(settings))
    assert "kini bersifat anonim" in text
    assert "sudah diteruskan" not in text
    session.refresh(held)
    assert held.next_attempt_at <= utcnow()
    assert held.payload is None  # nothing was sent yet: no redaction needed
    assert len(session.exec(select(OutboxRow)).all()) == 1


def test_anonim_after_delivery_says_so_and_asks_the_agency(session, settings):
    case = _case(session, "ADU-AAAA-1111", "42")
    _agency_row(session, case, status="delivered", attempts=1)
    text = handle_command(session, _command("anonim"), settings, _policy(settings))
    assert "sudah diteruskan ke instansi sebelum permintaan Anda" in text
    assert "kami telah meminta instansi tersebut untuk menghapus identitas" in text
    session.flush()
    redaction = session.exec(
        select(OutboxRow).where(OutboxRow.idempotency_key.endswith("/redacted/1"))
    ).one()
    assert (redaction.target, redaction.status) == ("PUPR", "pending")
    assert '"previous": "biasa"' in redaction.payload
    notes = [
        e.note
        for e in session.exec(
            select(StatusEvent).where(StatusEvent.complaint_id == case.id)
        )
    ]
    assert "redaction requested from PUPR" in notes


def test_a_button_acts_on_the_case_it_was_under(session, settings):
    older = _case(session, "ADU-AAAA-1111", "42")
    _case(session, "ADU-BBBB-2222", "42", received_at=T0 + timedelta(hours=1))
    text = handle_command(
        session, _command("rahasia", "ADU-AAAA-1111"), settings, _policy(settings)
    )
    assert "ADU-AAAA-1111" in text
    assert older.confidentiality == "rahasia"


def test_a_button_of_another_chats_case_changes_nothing(session, settings):
    theirs = _case(session, "ADU-AAAA-1111", "77")
    _case(session, "ADU-BBBB-2222", "42")
    text = handle_command(
        session, _command("anonim", "ADU-AAAA-1111"), settings, _policy(settings)
    )
    assert "tidak ditemukan" in text
    assert theirs.confidentiality == "biasa"


def test_biasa_never_lowers_from_the_chat(session, settings):
    case = _case(session, "ADU-AAAA-1111", "42", confidentiality="anonim")
    text = handle_command(
        session, _command("biasa", "ADU-AAAA-1111"), settings, _policy(settings)
    )
    assert "sudah bersifat anonim" in text
    assert "tidak dapat diturunkan" in text
    assert case.confidentiality == "anonim"
