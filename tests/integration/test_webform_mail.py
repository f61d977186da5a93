"""A citizen who leaves an e-mail address on /lapor gets the acknowledgement
by mail (a real SMTP server, aiosmtpd); a WhatsApp number is not offered
without a WhatsApp channel (with one: test_webform_whatsapp.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dengar.app import App
from dengar.runner import Runner
from dengar.web.app import create_app
from tests.fakes.smtp import running_smtp
from tests.unit.web.lapor_setup import fields, form_settings

NUMBER = re.compile(r'id="tracking-no">([A-Z]+-[0-9A-Z]{4}-[0-9A-Z]{4})<')


@pytest.fixture
def installation(tmp_path: Path, sqlite_url: str):
    inbox = tmp_path / "kosong"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    with running_smtp() as smtp:
        mail = (
            f"{{host: {smtp.host}, port: {smtp.port}, security: none, "
            "from_address: pengaduan@kab.example.go.id, timeout: 5}"
        )
        app = App.open(form_settings(sqlite_url, inbox, tmp_path / "spool", smtp=mail))
        client = TestClient(create_app(app), base_url="https://testserver")
        try:
            yield app, client, smtp
        finally:
            app.engine.dispose()


def _send(client: TestClient, **values: str) -> str:
    page = client.get("/lapor").text
    shown = NUMBER.search(client.post("/lapor", data=fields(page, **values)).text)
    assert shown, "the confirmation shows the tracking number"
    return shown.group(1)


def test_email_contact_gets_the_acknowledgement_by_mail(installation):
    app, client, smtp = installation
    number = _send(client, kontak="email", email="warga@contoh.id")
    summary = asyncio.run(Runner(app).run_once())
    assert not summary.errors
    (mail,) = smtp.sink.received
    assert mail.rcpt_tos == ["warga@contoh.id"]
    assert number in mail.message["Subject"]
    assert number in mail.message.get_content()
    page = client.get("/lapor").text
    assert "Email — tanda terima dan kabar perkembangan dikirim" in page
    assert 'value="whatsapp"' not in page
