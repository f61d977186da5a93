"""The email sink against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from config.settings import AgencySettings
from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.email import EmailSink, message_id_for
from dispatcher.sinks.registry import build_sink
from tests.services import free_port
from tests.unit.dispatcher.test_message_schema import (
    PHOTO,
    built_delivery,
    sqlite_sessions,
)

PASSWORD = "sandi-smtp-rahasia"


class Inbox:
    """aiosmtpd handler: keeps what arrives, refuses addresses on demand."""

    def __init__(self):
        self.messages = []
        self.refuse = {}  # address -> "550 ..." answer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (
                envelope.rcpt_tos,
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


def _agency(port: int, password: str = PASSWORD, to=("pengaduan@pupr.example.go.id",)):
    return AgencySettings.model_validate(
        {
            "code": "PUPR",
            "name": "Dinas PUPR",
            "sink": {
                "type": "email",
                "to": list(to),
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "username": "dengar",
                    "password": password,
                    "from_address": "dengar@kotabarukab.go.id",
                    "timeout": 5,
                },
            },
        }
    )


async def test_readable_indonesian_mail_with_files_and_tracking_no(smtp, sessions):
    inbox, port = smtp
    delivery = built_delivery(sessions)
    context = SinkContext(sessions=sessions, timezone="Asia/Jayapura")
    sink = build_sink(_agency(port), context)
    await sink.deliver(delivery)
    await sink.close()

    [(rcpts, mail)] = inbox.messages
    tracking_no = delivery.message["tracking_no"]
    assert rcpts == ["pengaduan@pupr.example.go.id"]
    assert f"[{tracking_no}]" in mail["Subject"]
    assert "Jalan berlubang" in mail["Subject"]
    assert mail["Message-ID"] == message_id_for(
        delivery.idempotency_key, "dengar@kotabarukab.go.id"
    )
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("Yth. Dinas PUPR,")
    assert f"Nomor pelacakan : {tracking_no}" in body
    # the time in the agency's zone, as people there read it (UTC+9, WIT)
    received = datetime.fromisoformat(delivery.message["received_at"])
    local = (received + timedelta(hours=9)).strftime("%d-%m-%Y %H:%M")
    assert f"Diterima        : {local} WIT\r\n" in body
    assert "Siti Rahmawati" in body
    assert "Mohon segera diperbaiki." in body
    files = {p.get_filename(): p.get_content() for p in mail.iter_attachments()}
    assert files["lubang.png"] == PHOTO
    assert f"pengaduan-{tracking_no}.json" in files


async def test_the_letter_says_status_and_why_in_indonesian(smtp, sessions):
    """The agency's staff read why the case came to them in their language,
    not the code Dengar stores (that stays in the JSON attachment)."""
    inbox, port = smtp
    delivery = built_delivery(
        sessions,
        routing_reason="routing.rules[2]: keywords jalan rusak, lubang; category jalan",
    )
    sink = build_sink(_agency(port), SinkContext(sessions=sessions))
    await sink.deliver(delivery)
    await sink.close()

    [(_, mail)] = inbox.messages
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Status          : diteruskan\r\n" in body
    assert (
        "Alasan penerusan: aturan rute ke-3: kata kunci jalan rusak, lubang; "
        "kategori jalan\r\n"
    ) in body
    assert "routing.rules" not in body
    assert "dispatched" not in body


async def test_resend_has_the_same_message_id(smtp, sessions):
    inbox, port = smtp
    delivery = built_delivery(sessions)
    sink = EmailSink(_agency(port), SinkContext(sessions=sessions))
    await sink.deliver(delivery)
    await sink.deliver(delivery)
    ids = {mail["Message-ID"] for _, mail in inbox.messages}
    assert len(inbox.messages) == 2
    assert len(ids) == 1


@pytest.mark.parametrize("level", ["anonim", "rahasia"])
async def test_confidential_case_mail_never_names_the_reporter(smtp, sessions, level):
    inbox, port = smtp
    delivery = built_delivery(sessions, confidentiality=level)
    await EmailSink(_agency(port), SinkContext(sessions=sessions)).deliver(delivery)
    [(_, mail)] = inbox.messages
    raw = mail.as_string()
    for identity in ("Siti", "siti@warga.example", "6281234567890"):
        assert identity not in raw
    if level == "rahasia":
        assert mail["Subject"].startswith("[RAHASIA]")
        assert "Jalan berlubang di Jl." not in mail["Subject"]


async def test_refused_recipient_is_permanent(smtp, sessions):
    inbox, port = smtp
    inbox.refuse["pengaduan@pupr.example.go.id"] = "550 5.1.1 Mailbox tidak ada"
    sink = EmailSink(_agency(port), SinkContext(sessions=sessions))
    with pytest.raises(PermanentDeliveryError) as caught:
        await sink.deliver(built_delivery(sessions))
    assert "Mailbox tidak ada" in (caught.value.detail or "")
    assert inbox.messages == []


async def test_deferred_recipient_is_retriable(smtp, sessions):
    inbox, port = smtp
    inbox.refuse["pengaduan@pupr.example.go.id"] = "450 4.2.1 Coba lagi nanti"
    sink = EmailSink(_agency(port), SinkContext(sessions=sessions))
    with pytest.raises(RetriableDeliveryError, match="Coba lagi nanti"):
        await sink.deliver(built_delivery(sessions))


async def test_wrong_password_is_retriable_and_never_shown(smtp, sessions):
    _inbox, port = smtp
    sink = EmailSink(_agency(port, password="sandi-salah-99"), SinkContext(sessions))
    with pytest.raises(RetriableDeliveryError) as caught:
        await sink.deliver(built_delivery(sessions))
    assert "login as 'dengar' failed" in str(caught.value)
    for text in (str(caught.value), repr(sink)):
        assert "sandi-salah-99" not in text
        assert PASSWORD not in text


async def test_server_down_is_retriable(sessions):
    sink = EmailSink(_agency(free_port()), SinkContext(sessions=sessions))
    with pytest.raises(RetriableDeliveryError, match=r"smtp 127\.0\.0\.1"):
        await sink.deliver(built_delivery(sessions))


async def test_crlf_and_bidi_in_subject_names_and_files_never_reach_headers(
    smtp, sessions
):
    # stored before the normalizer cleaned headers, or from another channel
    inbox, port = smtp
    delivery = built_delivery(
        sessions,
        subject="Jalan rusak\r\nBcc: x@jahat.example",
        reporter_name="Siti\r\nKontak pelapor  : palsu@jahat.example",
    )
    [photo] = delivery.message["attachments"]
    photo["filename"] = "foto\u202egpj.exe\r\nBcc: y@jahat.example"
    sink = build_sink(_agency(port), SinkContext(sessions=sessions))
    await sink.deliver(delivery)  # not an error retried until dead
    await sink.close()

    [(rcpts, mail)] = inbox.messages
    assert rcpts == ["pengaduan@pupr.example.go.id"]
    assert mail["Bcc"] is None
    assert mail["Subject"].endswith("Jalan rusak Bcc: x@jahat.example")
    names = [p.get_filename() for p in mail.iter_attachments()]
    assert "fotogpj.exe Bcc: y@jahat.example" in names
    assert not any("\u202e" in n for n in names)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    body = body.replace("\r\n", "\n")
    assert "Perihal         : Jalan rusak Bcc: x@jahat.example\n" in body
    assert "Pelapor         : Siti Kontak pelapor : palsu@jahat.example" in body
    assert "\n  - fotogpj.exe Bcc: y@jahat.example (" in body
