"""The whole email path against real servers: mail APPENDed to Dovecot
becomes a case, is acknowledged once over SMTP (aiosmtpd) with its tracking
number, the citizen's reply to the acknowledgement joins the same case, and
an auto-reply to the acknowledgement starts no loop."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from storage.tables import ComplaintRow
from tests.fakes.dovecot import PASSWORD, running_dovecot
from tests.fakes.smtp import running_smtp

pytestmark = pytest.mark.dovecot

OWN = "dengar.kab.example.go.id"


@pytest.fixture(scope="module")
def dovecot():
    with running_dovecot() as server:
        yield server


@pytest.fixture
def smtp():
    with running_smtp() as server:
        yield server


def install(tmp_path, dovecot, smtp, user) -> App:
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "channels": [
                {
                    "name": "surel",
                    "type": "imap",
                    "host": dovecot.host,
                    "port": dovecot.port,
                    "security": "none",
                    "username": user,
                    "password": PASSWORD,
                    "after_import": "flag_seen",
                    "idle": False,
                    "message_id_domain": OWN,
                    "smtp": {
                        "host": smtp.host,
                        "port": smtp.port,
                        "security": "none",
                        "from_address": "pengaduan@kab.example.go.id",
                    },
                }
            ],
            "agencies": [{"code": "DISKOMINFO", "name": "Diskominfo"}],
            "routing": {"default_agency": "DISKOMINFO"},
            "signature": {
                "instansi": "Diskominfo Kabupaten Contoh",
                "address": "Jl. Merdeka No. 1, Contoh",
                "contact": "Telepon (0518) 21000",
            },
        }
    )
    return App.open(settings)


def append(dovecot, user, raw: bytes) -> None:
    client = dovecot.client(user)
    client.append("INBOX", raw)
    client.logout()


def rows(app: App) -> list[ComplaintRow]:
    with app.sessions() as session:
        return list(session.exec(select(ComplaintRow).order_by(ComplaintRow.id)))


async def test_case_ack_reply_thread_and_no_loop(tmp_path, dovecot, smtp):
    user = f"pengaduan-{uuid.uuid4().hex[:8]}"
    app = install(tmp_path, dovecot, smtp, user)
    runner = Runner(app)
    try:
        append(
            dovecot,
            user,
            b"From: Budi Santoso <budi@example.id>\r\n"
            b"To: pengaduan@kab.example.go.id\r\n"
            b"Subject: Jalan rusak di Desa Sukamaju\r\n"
            b"Message-ID: <keluhan-1@example.id>\r\n"
            b"Date: Mon, 02 Dec 2026 09:00:00 +0700\r\n\r\n"
            b"Jalan di depan SD Negeri 1 berlubang besar.\r\n",
        )
        await runner.run_once()
        [case] = rows(app)
        assert case.kind == "case"
        [ack] = smtp.sink.received
        assert ack.rcpt_tos == ["budi@example.id"]
        assert case.tracking_no.startswith("ADU-")
        assert f"[{case.tracking_no}]" in ack.message["Subject"]
        assert ack.message["In-Reply-To"] == "<keluhan-1@example.id>"
        # the form of an official letter
        assert ack.message["From"] == (
            "Layanan Pengaduan Masyarakat <pengaduan@kab.example.go.id>"
        )
        letter = ack.message.get_payload(decode=True).decode().replace("\r\n", "\n")
        assert letter.startswith("Yth. Bapak/Ibu Budi Santoso,")
        assert "> Jalan di depan SD Negeri 1 berlubang besar." in letter
        assert f"nomor pelacakan {case.tracking_no}" in letter
        assert "Untuk menanyakan perkembangannya" in letter
        assert letter.rstrip().endswith(
            "Hormat kami,\nDiskominfo Kabupaten Contoh\nJl. Merdeka No. 1, Contoh\n"
            "Telepon (0518) 21000\n\n"
            "Email ini dikirim otomatis oleh layanan pengaduan."
        )
        ack_id = ack.message["Message-ID"]

        # the citizen answers the acknowledgement, quoting it
        append(
            dovecot,
            user,
            (
                "From: Budi Santoso <budi@example.id>\r\n"
                "To: pengaduan@kab.example.go.id\r\n"
                f"Subject: Re: {ack.message['Subject']}\r\n"
                "Message-ID: <keluhan-2@example.id>\r\n"
                f"In-Reply-To: {ack_id}\r\n"
                f"References: <keluhan-1@example.id> {ack_id}\r\n"
                "Date: Mon, 02 Dec 2026 10:00:00 +0700\r\n\r\n"
                "Lubangnya makin besar setelah hujan.\r\n\r\n"
                "Pada Sen, 2 Des 2026 09.01, Layanan Pengaduan menulis:\r\n"
                "> Terima kasih. Pengaduan Anda telah kami terima.\r\n"
            ).encode(),
        )
        # an out-of-office robot answers the acknowledgement too
        append(
            dovecot,
            user,
            (
                "From: Kantor Budi <budi@kantor.example.id>\r\n"
                "To: pengaduan@kab.example.go.id\r\n"
                f"Subject: Automatic reply: {ack.message['Subject']}\r\n"
                "Auto-Submitted: auto-replied\r\n"
                "Message-ID: <ooo-1@kantor.example.id>\r\n"
                f"In-Reply-To: {ack_id}\r\n\r\n"
                "Saya sedang cuti.\r\n"
            ).encode(),
        )
        await runner.run_once()
        first, follow_up, robot = rows(app)
        assert follow_up.kind == "follow_up"
        assert follow_up.follow_up_of_id == first.id
        assert "Lubangnya makin besar" in follow_up.clean_text
        assert "telah kami terima" not in follow_up.clean_text
        assert robot.kind == "ignored"
        assert "Auto-Submitted" in (robot.ignored_reason or "")
        # nothing was ever sent to the robot
        assert all(r.rcpt_tos != ["budi@kantor.example.id"] for r in smtp.sink.received)
    finally:
        await app.close()


def _collision(sender: str, text: str, date: str = "Mon, 07 Dec 2026 08:00:00 +0700"):
    return (
        f"From: {sender}\r\n"
        "To: pengaduan@kab.example.go.id\r\n"
        "Subject: Pengaduan\r\n"
        "Message-ID: <collide-1@mail.example>\r\n"
        f"Date: {date}\r\n\r\n"
        f"{text}\r\n"
    ).encode()


async def test_a_reused_message_id_from_another_sender_is_its_own_case(
    tmp_path, dovecot, smtp, caplog
):
    user = f"pengaduan-{uuid.uuid4().hex[:8]}"
    app = install(tmp_path, dovecot, smtp, user)
    runner = Runner(app)
    try:
        append(dovecot, user, _collision("a@warga.example", "Jalan berlubang di RT 3."))
        await runner.run_once()
        append(dovecot, user, _collision("b@lain.example", "Sampah menumpuk di pasar."))
        # the same sender, date and subject as A, with other text
        append(dovecot, user, _collision("a@warga.example", "Lampu taman mati."))
        with caplog.at_level("WARNING", logger="dengar.pipeline"):
            await runner.run_once()
        cases = rows(app)
        assert [c.kind for c in cases] == ["case", "case", "case"]
        assert len({c.external_id for c in cases}) == 3
        assert [c.reporter_email for c in cases] == [
            "a@warga.example",
            "b@lain.example",
            "a@warga.example",
        ]
        assert "Sampah menumpuk" in cases[1].clean_text
        assert "Lampu taman mati" in cases[2].clean_text
        acked = sorted(r.rcpt_tos[0] for r in smtp.sink.received)
        assert acked == ["a@warga.example", "a@warga.example", "b@lain.example"]
        collisions = [
            r for r in caplog.records if "collide-1@mail.example" in r.message
        ]
        assert len(collisions) == 2
        client = dovecot.client(user)
        client.select_folder("INBOX", readonly=True)
        flags = client.fetch(client.search("ALL"), ["FLAGS"])
        client.logout()
        assert all(b"\\Seen" in v[b"FLAGS"] for v in flags.values())
        # fetched again (a new UIDVALIDITY, a second mailbox): nothing new
        await runner.run_once()
        assert len(rows(app)) == 3
    finally:
        await app.close()
