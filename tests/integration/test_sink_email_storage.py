"""A photo mailed in reaches the agency's mail whichever way Dengar keeps
attachment bytes (``attachments.storage``: ``database`` or ``disk``): the
whole path, maildir → case → outbox → email sink → aiosmtpd."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from tests.integration.test_sink_email import Inbox, smtp  # noqa: F401

PHOTO = b"\xff\xd8\xff\xe0 foto jalan berlubang " * 200


def _citizen_mail(maildir: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    mail = EmailMessage()
    mail["From"] = "Siti Rahmawati <siti@warga.example>"
    mail["To"] = "pengaduan@kotabarukab.go.id"
    mail["Subject"] = "Jalan berlubang di Jl. Pangeran Antasari"
    mail["Message-ID"] = "<foto-1@warga.example>"
    mail.set_content("Jalan berlubang besar, sudah 3 bulan. Foto terlampir.")
    mail.add_attachment(PHOTO, maintype="image", subtype="jpeg", filename="lubang.jpg")
    (maildir / "new" / "1.warga").write_bytes(mail.as_bytes())


@pytest.mark.parametrize("storage", ["database", "disk"])
async def test_the_agency_mail_carries_the_photo_with_either_storage(
    smtp,  # noqa: F811
    tmp_path,
    storage,
):
    inbox, port = smtp
    _citizen_mail(tmp_path / "inbox")
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "attachments": {"storage": storage, "directory": str(tmp_path / "files")},
            "channels": [
                {"type": "maildir", "name": "surat", "path": str(tmp_path / "inbox")}
            ],
            "agencies": [
                {
                    "code": "PUPR",
                    "name": "Dinas PUPR",
                    "sink": {
                        "type": "email",
                        "to": ["pengaduan@pupr.example.go.id"],
                        "smtp": {
                            "host": "127.0.0.1",
                            "port": port,
                            "security": "none",
                            "from_address": "dengar@kotabarukab.go.id",
                            "timeout": 5,
                        },
                    },
                }
            ],
            "routing": {"default_agency": "PUPR"},
        }
    )
    app = App.open(settings)
    try:
        runner = Runner(app)
        await runner.run_once()
        await runner.run_once()  # the delivery, if the first run only stored
    finally:
        await app.close()

    [(_, mail)] = inbox.messages
    files = {p.get_filename(): p.get_content() for p in mail.iter_attachments()}
    assert files["lubang.jpg"] == PHOTO
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "lubang.jpg" in body
    if storage == "disk":  # the bytes really came from the file
        digest = hashlib.sha256(PHOTO).hexdigest()
        assert (tmp_path / "files" / digest[:2] / digest).read_bytes() == PHOTO


def test_a_file_gone_from_disk_is_left_out_not_an_error(tmp_path, caplog):
    from dispatcher.outbox.drain_load import _file_bytes
    from storage.tables import AttachmentRow

    kept = tmp_path / "ab" / "kept"
    kept.parent.mkdir()
    kept.write_bytes(b"ada")
    rows = [
        AttachmentRow(
            id=1,
            complaint_id=7,
            filename="a.jpg",
            content_type="image/jpeg",
            size=3,
            sha256="a" * 64,
            path=str(kept),
        ),
        AttachmentRow(
            id=2,
            complaint_id=7,
            filename="b.jpg",
            content_type="image/jpeg",
            size=3,
            sha256="b" * 64,
            path=str(tmp_path / "hilang"),
        ),
        AttachmentRow(
            id=3,
            complaint_id=7,
            filename="c.jpg",
            content_type="image/jpeg",
            size=3,
            sha256="c" * 64,
            data=b"db!",
        ),
    ]
    assert _file_bytes(rows) == {"a" * 64: b"ada", "c" * 64: b"db!"}
    assert "attachment 2 of case 7 cannot be read" in caplog.text
