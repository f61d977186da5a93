"""A citizen who leaves a WhatsApp number on /lapor hears back there: the
form's acknowledgement and a later status update reach the Graph API
emulator as the WhatsApp channel's approved templates with the tracking
number, and Meta's delivery statuses land on the form's reply rows. What
the citizen answers from that number, quoting the template or not, joins
the form's case within a day of the template; another number, or a message
days later, opens its own case."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from config.settings import Settings
from contracts.records import CaseStatus
from dengar.app import App
from dengar.web.app import create_app
from dispatcher.status import change_status
from storage.tables import ComplaintRow, OutboxRow
from tests.fakes.whatsapp_api import (
    FakeWhatsAppApi,
    channel_settings,
    message_webhook,
    signed,
    status_webhook,
)
from tests.integration.runs import run_once
from tests.unit.web.lapor_setup import fields, form_settings

NUMBER = re.compile(r'id="tracking-no">([A-Z]+-[0-9A-Z]{4}-[0-9A-Z]{4})<')
TEMPLATES = {
    "acknowledgement": {"name": "pengaduan_diterima", "language": "id"},
    "status_update": {"name": "status_pengaduan", "language": "id"},
}


@pytest.fixture
async def api():
    async with FakeWhatsAppApi().running() as fake:
        fake.approve_template("pengaduan_diterima", "id")
        fake.approve_template("status_pengaduan", "id")
        yield fake


def settings_for(
    api: FakeWhatsAppApi, tmp_path: Path, whatsapp_enabled: bool = True
) -> Settings:
    inbox = tmp_path / "kosong"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    whatsapp = channel_settings(
        api.base_url,
        str(tmp_path / "spool-wa"),
        templates=TEMPLATES,
        enabled=whatsapp_enabled,
    )
    return form_settings(
        f"sqlite:///{tmp_path / 'dengar.db'}",
        inbox,
        tmp_path / "spool",
        whatsapp_channel="wa",
        more_channels=f"  - {json.dumps(whatsapp)}\n",
    )


def push(client: TestClient, payload: dict) -> int:
    """Meta's signed POST to the WhatsApp channel's webhook."""
    body, signature = signed(payload)
    return client.post(
        "/webhooks/whatsapp/wa",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    ).status_code


def template_of(message: dict) -> tuple[str, list[str]]:
    """The template's name and its body parameters, as the citizen gets them."""
    template = message["template"]
    (body,) = template["components"]
    return template["name"], [p["text"] for p in body["parameters"]]


def form_replies(app: App) -> list[OutboxRow]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(OutboxRow)
                .where(OutboxRow.kind == "reply", OutboxRow.target == "formulir")
                .order_by("id")
            ).all()
        )


async def test_whatsapp_number_gets_acknowledgement_and_status_templates(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app), base_url="https://testserver")
    try:
        page = client.get("/lapor").text
        assert "WhatsApp — tanda terima dan kabar perkembangan" in page
        sent = client.post(
            "/lapor", data=fields(page, kontak="whatsapp", whatsapp="0812-3456-7890")
        )
        shown = NUMBER.search(sent.text)
        assert shown, "the confirmation shows the tracking number"
        number = shown.group(1)

        app = await run_once(settings)
        (ack,) = api.sent
        # the citizen never wrote to the number: only a template may go
        assert ack["to"] == "6281234567890"
        assert ack["type"] == "template"
        assert template_of(ack) == ("pengaduan_diterima", [number])
        (row,) = form_replies(app)
        assert (row.status, row.remote_id) == ("delivered", f"wa:{ack['id']}")

        # Meta reports the template reached the phone, through the
        # WhatsApp channel's webhook: the form's reply row learns it
        assert push(client, status_webhook(ack["id"], "delivered")) == 200
        app = await run_once(settings)
        (row,) = form_replies(app)
        assert row.remote_status == "delivered"

        # the citizen answers the template (quoting it): the answer joins
        # the form's case rather than opening a WhatsApp case
        answer = message_webhook(
            {
                "id": "wamid.JAWAB1",
                "type": "text",
                "text": {"body": "Lubangnya sekarang makin lebar, mohon segera."},
                "context": {"id": ack["id"]},
            }
        )
        assert push(client, answer) == 200
        app = await run_once(settings)
        with app.sessions() as session:
            case = session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == number)
            ).one()
            reply = session.exec(
                select(ComplaintRow).where(ComplaintRow.channel == "wa")
            ).one()
        assert reply.follow_up_of_id == case.id

        # the agency starts work: the citizen gets the status template
        with app.sessions() as session:
            case = session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == number)
            ).one()
            change_status(
                session,
                case,
                CaseStatus.IN_PROGRESS,
                None,
                "agency:PUPR",
                lambda row, text: app.pipeline.notify(session, row, text),
                message="Tim PUPR sudah ke lokasi",
            )
            session.commit()
        await run_once(settings)
        assert len(api.sent) == 2
        update = api.sent[1]
        assert update["to"] == "6281234567890"
        assert template_of(update) == ("status_pengaduan", [number])
    finally:
        client.close()
        web_app.engine.dispose()


def cases_and_follow_ups(app: App) -> tuple[list[ComplaintRow], list[ComplaintRow]]:
    """The WhatsApp channel's records: its own cases, and its follow-ups."""
    with app.sessions() as session:
        rows = session.exec(
            select(ComplaintRow).where(ComplaintRow.channel == "wa").order_by("id")
        ).all()
    return (
        [r for r in rows if r.kind == "case"],
        [r for r in rows if r.kind == "follow_up"],
    )


def text_message(wamid: str, body: str, hours_later: float = 0) -> dict:
    """A typed message that quotes nothing, sent ``hours_later`` from now."""
    return {
        "id": wamid,
        "type": "text",
        "text": {"body": body},
        "timestamp": str(int(time.time() + hours_later * 3600)),
    }


async def test_an_unquoted_answer_from_the_number_joins_the_form_case(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app), base_url="https://testserver")
    try:
        numbers = []
        for judul, isi in (
            ("Lampu jalan mati", "Lampu jalan di Jalan Veteran mati sejak Senin."),
            ("Jalan berlubang", "Jalan di depan Pasar Kemakmuran berlubang besar."),
        ):
            page = client.get("/lapor").text
            sent = client.post(
                "/lapor",
                data=fields(
                    page,
                    judul=judul,
                    isi=isi,
                    kontak="whatsapp",
                    whatsapp="0812-3456-7890",
                ),
            )
            shown = NUMBER.search(sent.text)
            assert shown, "the confirmation shows the tracking number"
            numbers.append(shown.group(1))
            # one at a time: the second case's template is the last one sent
            await run_once(settings)
        assert [template_of(m)[1] for m in api.sent] == [[n] for n in numbers]

        # the citizen types an answer without quoting the template: it
        # joins the form case the number was sent a template for last
        typed = text_message(
            "wamid.KETIK1", "Lubangnya makin lebar, sudah dua motor jatuh."
        )
        assert push(client, message_webhook(typed)) == 200
        # someone else writes to the same business number: their own case
        other = message_webhook(
            text_message("wamid.LAIN1", "Sampah menumpuk di pasar, sudah seminggu."),
            user_id="ID.9876543210987654321",
            wa_id="6285711112222",
            name="Siti",
        )
        assert push(client, other) == 200
        app = await run_once(settings)
        with app.sessions() as session:
            latest = session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == numbers[1])
            ).one()
        cases, follow_ups = cases_and_follow_ups(app)
        (joined,) = follow_ups
        assert joined.follow_up_of_id == latest.id
        assert joined.original_text == "Lubangnya makin lebar, sudah dua motor jatuh."
        (own,) = cases
        assert own.reporter_phone == "+6285711112222"
        assert own.tracking_no not in numbers
        # that citizen, who wrote first, was answered in the chat
        answer = api.sent[-1]
        assert answer.get("recipient", answer.get("to")) == "ID.9876543210987654321"
        assert numbers[0] not in json.dumps(answer)

        # within the template's day, /baru still starts a new case
        for wamid, body in (
            ("wamid.BARU", "/baru"),
            ("wamid.KETIK2", "Pohon tumbang menutup Jalan Berangas."),
        ):
            assert push(client, message_webhook(text_message(wamid, body, 0.01))) == 200
        app = await run_once(settings)
        cases, follow_ups = cases_and_follow_ups(app)
        assert len(follow_ups) == 1
        assert cases[-1].original_text == "Pohon tumbang menutup Jalan Berangas."

        # two days later the first citizen writes again: past the template's
        # day, a new conversation, so a case of its own
        later = text_message("wamid.KETIK3", "Lampu di gang sebelah juga mati.", 48)
        assert push(client, message_webhook(later)) == 200
        app = await run_once(settings)
        cases, follow_ups = cases_and_follow_ups(app)
        assert len(follow_ups) == 1
        assert [c.reporter_phone for c in cases] == [
            "+6285711112222",
            "+6281234567890",
            "+6281234567890",
        ]
        assert cases[-1].original_text == "Lampu di gang sebelah juga mati."
    finally:
        client.close()
        web_app.engine.dispose()


async def test_without_the_number_only_a_quoted_answer_joins(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    """A citizen known to WhatsApp only by a username (Meta sends no
    ``wa_id``) cannot be matched to the number on the form: a typed answer
    opens its own case, a quoted one still joins."""
    settings = settings_for(api, tmp_path)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app), base_url="https://testserver")
    try:
        page = client.get("/lapor").text
        sent = client.post(
            "/lapor", data=fields(page, kontak="whatsapp", whatsapp="081234567890")
        )
        shown = NUMBER.search(sent.text)
        assert shown
        await run_once(settings)
        (ack,) = api.sent

        typed = text_message("wamid.U1", "Lubangnya makin lebar, mohon segera.")
        quoted = {
            **text_message("wamid.U2", "Ini fotonya menyusul ya."),
            "context": {"id": ack["id"]},
        }
        assert push(client, message_webhook(typed, wa_id=None)) == 200
        assert push(client, message_webhook(quoted, wa_id=None)) == 200
        app = await run_once(settings)
        with app.sessions() as session:
            form_case = session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == shown.group(1))
            ).one()
        cases, follow_ups = cases_and_follow_ups(app)
        (own,) = cases
        assert own.original_text == "Lubangnya makin lebar, mohon segera."
        (joined,) = follow_ups
        assert joined.follow_up_of_id == form_case.id
    finally:
        client.close()
        web_app.engine.dispose()


async def test_disabled_whatsapp_channel_is_not_offered(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path, whatsapp_enabled=False)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app), base_url="https://testserver")
    try:
        page = client.get("/lapor").text
        assert 'value="whatsapp"' not in page
        refused = client.post(
            "/lapor", data=fields(page, kontak="whatsapp", whatsapp="081234567890")
        )
        assert refused.status_code == 400
        assert "Kabar melalui WhatsApp belum tersedia" in refused.text
    finally:
        client.close()
        web_app.engine.dispose()
