"""One Message-ID is the same mail only with the same sender and content, on
SQLite and PostgreSQL through the Maildir path: a colliding mail from
another sender (or with other text) is its own case; the same mail delivered
into a second mailbox is recognised."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from storage.tables import ComplaintRow, QuarantineRow
from tests.reliability.harness import make_maildir

pytestmark = pytest.mark.postgres


def _mail(folder: Path, name: str, sender: str, text: str) -> Path:
    path = folder / "new" / name
    path.write_bytes(
        (
            f"From: Warga <{sender}>\n"
            "To: pengaduan@kotabarukab.go.id\n"
            "Subject: Pengaduan\n"
            "Date: Mon, 07 Dec 2026 08:00:00 +0700\n"
            "Message-ID: <collide-1@mail.example>\n\n"
            f"{text}\n"
        ).encode()
    )
    return path


def _settings(url: str, *folders: Path) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "channels": [
                {"name": f"surat{i}", "type": "maildir", "path": str(folder)}
                for i, folder in enumerate(folders)
            ],
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
        }
    )


async def _run(settings: Settings) -> list[ComplaintRow]:
    app = App.open(settings)
    try:
        await Runner(app).run_once()
        with app.sessions() as session:
            assert session.exec(select(QuarantineRow)).all() == []
            return list(session.exec(select(ComplaintRow).order_by(ComplaintRow.id)))
    finally:
        await app.close()


async def test_a_colliding_message_id_makes_its_own_case(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = make_maildir(tmp_path / "inbox")
    second = make_maildir(tmp_path / "second")
    _mail(inbox, "1.a", "a@warga.example", "Jalan berlubang di RT 3.")
    settings = _settings(database_url, inbox, second)
    assert len(await _run(settings)) == 1
    # another citizen's mail reuses the Message-ID; so does one of A's with
    # the same date and subject but other text; and A's own mail arrives a
    # second time, in the other mailbox
    _mail(inbox, "2.b", "b@lain.example", "Sampah menumpuk di pasar.")
    _mail(inbox, "3.a", "a@warga.example", "Lampu taman mati.")
    _mail(second, "1.a", "a@warga.example", "Jalan berlubang di RT 3.")
    with caplog.at_level(logging.WARNING, logger="dengar.pipeline"):
        cases = await _run(settings)
    assert [(c.kind, c.reporter_email) for c in cases] == [
        ("case", "a@warga.example"),
        ("case", "b@lain.example"),
        ("case", "a@warga.example"),
    ]
    assert [c.clean_text for c in cases] == [
        "Jalan berlubang di RT 3.",
        "Sampah menumpuk di pasar.",
        "Lampu taman mati.",
    ]
    assert all(c.tracking_no for c in cases)
    assert len({c.external_id for c in cases}) == 3
    logged = [r.getMessage() for r in caplog.records]
    assert sum("<collide-1@mail.example> is already stored" in m for m in logged) == 2
    # nothing is left unread, and a rerun adds nothing
    assert not any((inbox / "new").iterdir())
    shutil.rmtree(second / "cur")
    (second / "cur").mkdir()
    assert len(await _run(settings)) == 3
