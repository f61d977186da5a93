"""A WhatsApp complaint through the whole of Dengar: Meta's signed POST to
the web app, the spool, ``Runner.run_once``, the case, the acknowledgement
with reply buttons on the Graph API emulator, a button press that makes the
case anonim, and Meta's retries that change nothing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from channels.whatsapp import media_retry
from config.settings import Settings
from dengar.app import App
from dengar.cli.quarantine import NotReplayable, rebuild
from dengar.web.app import create_app
from dengar.web.auth import add_user
from storage.tables import (
    AttachmentRow,
    ComplaintRow,
    OutboxRow,
    QuarantineRow,
    StatusEvent,
)
from tests.fakes.whatsapp_api import (
    VERIFY_TOKEN,
    FakeWhatsAppApi,
    channel_settings,
    message_webhook,
    signed,
    status_webhook,
)
from tests.integration.runs import run_once

USER = "ID.1234567890123456789"


@pytest.fixture
async def api():
    async with FakeWhatsAppApi().running() as fake:
        yield fake


def settings_for(api: FakeWhatsAppApi, tmp_path: Path, **channel: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "web": {"secret_key": "test-secret", "cookie_secure": False},
            "channels": [
                channel_settings(api.base_url, str(tmp_path / "spool"), **channel)
            ],
        }
    )


def post(client: TestClient, payload: dict[str, Any]) -> tuple[int, str]:
    body, signature = signed(payload)
    response = client.post(
        "/webhooks/whatsapp/wa",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    return response.status_code, response.text


def cases(app: App) -> list[ComplaintRow]:
    with app.sessions() as session:
        return list(
            session.exec(select(ComplaintRow).where(ComplaintRow.kind == "case")).all()
        )


async def test_signed_message_becomes_a_case_with_buttons_and_retries_change_nothing(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        answer = client.get(
            "/webhooks/whatsapp/wa",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "8432",
            },
        )
        assert (answer.status_code, answer.text) == (200, "8432")
        assert answer.headers["content-type"].startswith("text/plain")
        bad = client.get(
            "/webhooks/whatsapp/wa",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "x",
                "hub.challenge": "1",
            },
        )
        assert bad.status_code == 403
        assert client.post("/webhooks/whatsapp/wa", content=b"{}").status_code == 401
        assert client.get("/webhooks/whatsapp/nope").status_code == 404

        complaint = message_webhook(
            {
                "id": "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA",
                "type": "text",
                "text": {"body": "Jalan di Desa Sigam berlubang besar, bahaya"},
            }
        )
        assert post(client, complaint) == (200, "received")

        app = await run_once(settings)
        [case] = cases(app)
        assert case.channel == "wa"
        assert case.reporter_chat_id == USER
        ack, where = api.sent
        assert ack["recipient"] == USER
        assert ack["type"] == "interactive"
        assert case.tracking_no in ack["interactive"]["body"]["text"]
        buttons = [b["reply"] for b in ack["interactive"]["action"]["buttons"]]
        assert [b["id"] for b in buttons] == [
            f"{word} {case.tracking_no}" for word in ("biasa", "anonim", "rahasia")
        ]
        # the complaint says no place Dengar knows: it asks where, with
        # WhatsApp's location button
        assert where["interactive"]["type"] == "location_request_message"
        assert "lokasi" in where["interactive"]["body"]["text"]

        # Meta retries the same delivery after we stored it: kept again,
        # recognised by its wamid, no second case and no second ack
        assert post(client, complaint)[0] == 200
        app = await run_once(settings)
        assert len(cases(app)) == 1
        assert len(api.sent) == 2

        # the citizen taps the button and shares the place: the case has it
        shared = message_webhook(
            {
                "id": "wamid.where1",
                "type": "location",
                "location": {"latitude": -3.2461, "longitude": 116.2155},
                "context": {"from": "15550783881", "id": where["id"]},
            }
        )
        assert post(client, shared)[0] == 200
        app = await run_once(settings)
        [case] = cases(app)
        assert (case.location_lat, case.location_lon) == (-3.2461, 116.2155)

        press = message_webhook(
            {
                "id": "wamid.press1",
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": buttons[1]["id"], "title": "Anonim"},
                },
                "context": {"from": "15550783881", "id": ack["id"]},
            }
        )
        assert post(client, press)[0] == 200
        app = await run_once(settings)
        [case] = cases(app)
        assert case.confidentiality == "anonim"
        assert any(
            "anonim" in (s.get("text") or {}).get("body", "") for s in api.sent[1:]
        )
    finally:
        client.close()
        web_app.engine.dispose()


async def test_oversized_post_is_refused_before_it_is_read(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path, max_webhook_bytes=2048)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        big = message_webhook(
            {"id": "wamid.big", "type": "text", "text": {"body": "x" * 4000}}
        )
        status, text = post(client, big)
        assert status == 413
        assert "2048" in text
        assert not (tmp_path / "spool" / "wa" / "new").exists() or not any(
            (tmp_path / "spool" / "wa" / "new").iterdir()
        )
    finally:
        client.close()
        web_app.engine.dispose()


def outbox_replies(app: App) -> list[OutboxRow]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(OutboxRow).where(OutboxRow.kind == "reply").order_by("id")
            ).all()
        )


async def test_statuses_update_the_reply_row_and_the_case_page_shows_them(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app), base_url="https://testserver")
    try:
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.S1",
                    "type": "text",
                    "text": {"body": "Got mampet di Jl. Batu Selira"},
                }
            ),
        )
        app = await run_once(settings)
        ack, _where = api.sent
        [row] = outbox_replies(app)
        assert row.remote_id == f"wa:{ack['id']}"
        assert row.remote_status is None
        # read may arrive before delivered: states only move forward
        post(client, status_webhook(ack["id"], "read"))
        post(client, status_webhook(ack["id"], "delivered"))
        app = await run_once(settings)
        [row] = outbox_replies(app)
        assert row.remote_status == "read"

        with web_app.sessions() as session:
            add_user(session, "budi", "rahasia-sekali-123", "staff")
            session.commit()
        [case] = cases(app)
        page_of_login = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page_of_login)
        assert token is not None
        client.post(
            "/login",
            data={
                "name": "budi",
                "password": "rahasia-sekali-123",
                "csrf_token": token.group(1),
                "next": "/",
            },
        )
        page = client.get(f"/kasus/{case.tracking_no}")
        assert page.status_code == 200
        assert "terkirim, sudah dibaca pelapor" in page.text
    finally:
        client.close()
        web_app.engine.dispose()


async def test_window_closed_failure_sends_the_template_again(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    api.approve_template("pengaduan_diterima", "id")
    settings = settings_for(
        api, tmp_path, templates={"acknowledgement": {"name": "pengaduan_diterima"}}
    )
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {"id": "wamid.W1", "type": "text", "text": {"body": "Lampu jalan mati"}}
            ),
        )
        app = await run_once(settings)
        ack, _where = api.sent
        assert ack["type"] == "interactive"
        # Meta accepted it, then reports it could not be delivered: 131047
        failed = status_webhook(
            ack["id"],
            "failed",
            errors=[{"code": 131047, "title": "Re-engagement message"}],
        )
        post(client, failed)
        # (each run is a new process as far as the channel knows)
        app = await run_once(settings)
        assert [s["type"] for s in api.sent] == ["interactive"] * 2 + ["template"]
        template = api.sent[2]["template"]
        [case] = cases(app)
        assert template["components"][0]["parameters"][0]["text"] == case.tracking_no
        [row] = outbox_replies(app)
        assert row.status == "delivered"
        assert row.remote_id == f"wa:{api.sent[2]['id']}"
    finally:
        client.close()
        web_app.engine.dispose()


async def test_after_a_restart_a_status_update_in_the_window_is_free_text(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    api.approve_template("status_pengaduan", "id")
    settings = settings_for(
        api, tmp_path, templates={"status_update": {"name": "status_pengaduan"}}
    )
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {"id": "wamid.R1", "type": "text", "text": {"body": "Got mampet"}}
            ),
        )
        await run_once(settings)
        sent_before = len(api.sent)
        # staff answer an hour later, from a Dengar started anew
        restarted = App.open(settings)
        try:
            [case] = cases(restarted)
            assert restarted.notify(case, "Petugas sudah menjadwalkan perbaikan.")
            await restarted.worker.drain_all()
        finally:
            await restarted.close()
        [update] = api.sent[sent_before:]
        assert update["type"] == "text"
        assert "menjadwalkan perbaikan" in update["text"]["body"]
    finally:
        client.close()
        web_app.engine.dispose()


def with_gazetteer(api: FakeWhatsAppApi, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            **settings_for(api, tmp_path).model_dump(mode="json"),
            "channels": [channel_settings(api.base_url, str(tmp_path / "spool"))],
            "gazetteer": {
                "file": str(
                    Path(__file__).resolve().parents[2]
                    / "config"
                    / "gazetteer.kotabaru.yaml"
                )
            },
        }
    )


async def test_the_answer_to_where_is_it_gives_the_case_its_region(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = with_gazetteer(api, tmp_path)
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {"id": "wamid.Q1", "type": "text", "text": {"body": "Lampu jalan mati"}}
            ),
        )
        app = await run_once(settings)
        [case] = cases(app)
        assert case.region is None
        where = api.sent[-1]
        assert where["interactive"]["type"] == "location_request_message"
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.Q2",
                    "type": "location",
                    "location": {"latitude": -3.34, "longitude": 116.2},
                    "context": {"from": "15550783881", "id": where["id"]},
                }
            ),
        )
        app = await run_once(settings)
        [case] = cases(app)
        assert case.region == "Pulau Laut Sigam"
    finally:
        client.close()
        web_app.engine.dispose()


async def test_shared_location_gives_the_region_and_a_lost_file_is_noted(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = with_gazetteer(api, tmp_path)
    api.citizen_wrote(USER)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.loc",
                    "type": "location",
                    "location": {"latitude": -3.34, "longitude": 116.2},
                }
            ),
        )
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.doc",
                    "type": "document",
                    "document": {
                        "id": "4490709327384033",  # Meta no longer has it
                        "filename": "foto-jalan.pdf",
                        "mime_type": "application/pdf",
                    },
                },
                user_id="ID.9999",
                wa_id=None,
            ),
        )
        api.citizen_wrote("ID.9999")
        app = await run_once(settings)
        by_reporter = {c.reporter_chat_id: c for c in cases(app)}
        assert by_reporter[USER].region == "Pulau Laut Sigam"
        # the place is known: nobody asks where it is
        assert not [
            s
            for s in api.sent
            if s["recipient"] == USER
            and s.get("interactive", {}).get("type") == "location_request_message"
        ]
        # the citizen is asked to send the file again, naming WhatsApp
        asked = [
            s["text"]["body"]
            for s in api.sent
            if s["recipient"] == "ID.9999" and "kirim ulang" in json.dumps(s)
        ]
        [text] = asked
        assert "server WhatsApp" in text
        assert "Telegram" not in text
        lost = by_reporter["ID.9999"]
        with app.sessions() as session:
            notes = [
                e.note
                for e in session.exec(
                    select(StatusEvent).where(StatusEvent.complaint_id == lost.id)
                ).all()
                if e.note and "tidak dapat diunduh" in e.note
            ]
        [note] = notes
        assert "foto-jalan.pdf" in note
        assert "tidak tersedia di server WhatsApp" in note
    finally:
        client.close()
        web_app.engine.dispose()


async def test_a_quarantined_body_is_rebuilt_by_the_channel(
    api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    body = message_webhook(
        {"id": "wamid.Q1", "type": "text", "text": {"body": "Air PDAM mati"}}
    )
    body["entry"][0]["changes"][0]["value"]["messages"].append(
        {"id": "wamid.Q2", "type": "location", "location": {}, "from": "62811"}
    )
    raw = json.dumps(body).encode()
    app = App.open(settings)
    try:
        row = QuarantineRow(
            channel="wa", external_id="webhook:x", data=raw, reason="test"
        )
        result = rebuild(app, row)
        assert [i.external_id for i in result.items] == ["wamid:wamid.Q1"]
        bad = QuarantineRow(
            channel="wa",
            external_id="webhook:y",
            data=json.dumps(
                message_webhook({"id": "wamid.Q3", "type": "location", "location": {}})
            ).encode(),
            reason="test",
        )
        with pytest.raises(NotReplayable, match="latitude"):
            rebuild(app, bad)
    finally:
        await app.close()


async def test_a_photo_meta_could_not_give_joins_its_case_later_and_emoji_get_no_answer(
    api: FakeWhatsAppApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_retry, "RETRY_DELAYS", (0.0,))
    settings = settings_for(api, tmp_path)
    api.citizen_wrote(USER)
    media_id = api.add_media(b"\xff\xd8 foto jembatan", "image/jpeg")
    api.fail("media", 2, "Service temporarily unavailable")
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.P1",
                    "type": "image",
                    "image": {"id": media_id, "caption": "Jembatan Desa Sigam retak"},
                }
            ),
        )
        app = await run_once(settings)
        [case] = cases(app)
        assert case.tracking_no is not None
        # acknowledged at once; not asked to send the photo again
        assert not [s for s in api.sent if "kirim ulang" in json.dumps(s)]
        ack_count = len(api.sent)
        with app.sessions() as session:
            [note] = [
                e.note
                for e in session.exec(
                    select(StatusEvent).where(StatusEvent.complaint_id == case.id)
                ).all()
                if e.note and "diunduh ulang otomatis" in e.note
            ]
        assert "server WhatsApp" in note
        # Meta's media service is back: the next run brings the photo
        app = await run_once(settings)
        with app.sessions() as session:
            files = session.exec(select(AttachmentRow)).all()
            assert [f.filename for f in files] == [f"image-{media_id}"]
            [again] = session.exec(select(ComplaintRow)).all()[1:]
            assert again.follow_up_of_id == case.id
        assert len(cases(app)) == 1

        # a thumbs-up on our acknowledgement is kept, and answered with nothing
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.E1",
                    "type": "reaction",
                    "reaction": {
                        "message_id": api.sent[0]["id"],
                        "emoji": "\U0001f44d",
                    },
                }
            ),
        )
        # so is WhatsApp's notice that the citizen changed number
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.SY1",
                    "type": "system",
                    "system": {
                        "body": "User Budi changed from 6281234567890 to 6281299990000",
                        "wa_id": "6281299990000",
                        "type": "user_changed_number",
                    },
                }
            ),
        )
        app = await run_once(settings)
        assert len(api.sent) == ack_count
        with app.sessions() as session:
            for wamid in ("wamid.E1", "wamid.SY1"):
                kept = session.exec(
                    select(ComplaintRow).where(
                        ComplaintRow.external_id == f"wamid:{wamid}"
                    )
                ).one()
                assert kept.kind == "ignored"
    finally:
        client.close()
        web_app.engine.dispose()


# the message id of the reference's example
NOTICE_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="


def changed_number_webhook(
    old_phone: str, new_phone: str, *, user_id: str | None, previous_user_id: str | None
) -> dict[str, Any]:
    """WhatsApp's notice that a citizen changed number, as the system
    messages webhook reference shows it (no ``contacts`` array; ``from`` is
    the old number, ``system.wa_id`` the new one); since August 2026 it also
    names the new business-scoped id and the previous one."""
    system: dict[str, Any] = {
        "body": f"User Budi Santoso changed from {old_phone} to {new_phone}",
        "wa_id": new_phone,
        "type": "user_changed_number",
    }
    if user_id is not None:
        system["user_id"] = user_id
    if previous_user_id is not None:
        system["previous_user_id"] = previous_user_id
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "messages": [
                                {
                                    "from": old_phone,
                                    "id": NOTICE_ID,
                                    "timestamp": str(int(time.time())),
                                    "type": "system",
                                    "system": system,
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize("with_user_ids", [True, False], ids=["2026", "phone-only"])
async def test_a_citizen_who_changed_number_continues_their_case(
    api: FakeWhatsAppApi, tmp_path: Path, with_user_ids: bool
) -> None:
    old_phone, new_phone = "6281234567890", "6281398765432"
    new_user = "ID.9876543210987654321"
    # a citizen known by business-scoped id (2026), or by number only
    old_key, new_key = (USER, new_user) if with_user_ids else (old_phone, new_phone)
    settings = settings_for(api, tmp_path)
    api.citizen_wrote(old_key)
    api.citizen_wrote(new_key)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.before",
                    "type": "text",
                    "text": {"body": "Jalan di Desa Sigam berlubang besar"},
                },
                user_id=old_key if with_user_ids else None,
                wa_id=old_phone,
            ),
        )
        app = await run_once(settings)
        [case] = cases(app)
        assert case.reporter_chat_id == old_key
        sent_before = len(api.sent)

        notice = changed_number_webhook(
            old_phone,
            new_phone,
            user_id=new_user if with_user_ids else None,
            previous_user_id=USER if with_user_ids else None,
        )
        assert post(client, notice) == (200, "received")
        app = await run_once(settings)
        # kept like any message, without an answer; the case is the
        # citizen's under their new id
        with app.sessions() as session:
            [kept] = session.exec(
                select(ComplaintRow).where(
                    ComplaintRow.external_id == f"wamid:{NOTICE_ID}"
                )
            ).all()
            assert kept.kind == "ignored"
            assert kept.reporter_chat_id == new_key
        assert len(api.sent) == sent_before
        [case] = cases(app)
        assert case.reporter_chat_id == new_key

        # the citizen writes again from the new number: the same case
        post(
            client,
            message_webhook(
                {
                    "id": "wamid.after",
                    "type": "text",
                    "text": {"body": "Lubangnya makin besar setelah hujan"},
                },
                user_id=new_user if with_user_ids else None,
                wa_id=new_phone,
            ),
        )
        app = await run_once(settings)
        [same] = cases(app)
        assert same.id == case.id
        with app.sessions() as session:
            [follow_up] = session.exec(
                select(ComplaintRow).where(
                    ComplaintRow.external_id == "wamid:wamid.after"
                )
            ).all()
        assert follow_up.follow_up_of_id == case.id
        # asked from the new number, /status knows the case
        post(
            client,
            message_webhook(
                {"id": "wamid.status", "type": "text", "text": {"body": "/status"}},
                user_id=new_user if with_user_ids else None,
                wa_id=new_phone,
            ),
        )
        await run_once(settings)
        [answer] = api.sent[sent_before:]
        assert (answer.get("recipient") or answer.get("to")) == new_key
        assert case.tracking_no in json.dumps(answer)
    finally:
        await web_app.close()
