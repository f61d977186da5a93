"""The WhatsApp channel against the Graph API emulator: webhook checks,
the spool, conversion of every message type, media, replies and errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.meta_signature import sign, signature_valid
from channels.whatsapp import media_retry
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.webhook import WhatsAppWebhook, spool_of
from config.channel_settings import WhatsAppChannelSettings
from contracts.errors import FatalChannelError, RecipientUnreachable, ReplyRetriable
from contracts.records import OutgoingReply, stored_extras
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsAppApi,
    channel_settings,
    message_webhook,
    signed,
    status_webhook,
)

USER = "ID.1234567890123456789"


@pytest.fixture
async def whatsapp_api() -> AsyncIterator[FakeWhatsAppApi]:
    async with FakeWhatsAppApi().running() as api:
        yield api


def settings(
    api: FakeWhatsAppApi | None, spool: Path, **extra: Any
) -> WhatsAppChannelSettings:
    base = api.base_url if api is not None else "http://127.0.0.1:9"
    return WhatsAppChannelSettings.model_validate(
        channel_settings(base, str(spool), **extra)
    )


def deliver(ws: WhatsAppChannelSettings, payload: dict[str, Any]) -> tuple[int, str]:
    body, signature = signed(payload)
    answer = WhatsAppWebhook(ws, [ws]).receive(body, {"x-hub-signature-256": signature})
    return answer.status, answer.text


# ---------------------------------------------------------------- signature


def test_signature_is_checked_on_the_raw_bytes() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    good = sign(body, APP_SECRET)
    assert signature_valid(body, good, APP_SECRET)
    assert signature_valid(body, good.upper().replace("SHA256=", "sha256="), APP_SECRET)
    assert not signature_valid(body + b" ", good, APP_SECRET)
    assert not signature_valid(body, sign(body, "another-secret"), APP_SECRET)
    assert not signature_valid(body, None, APP_SECRET)
    assert not signature_valid(body, good.removeprefix("sha256="), APP_SECRET)
    assert not signature_valid(body, "sha256=zz\u00e9", APP_SECRET)


# ---------------------------------------------------------------- webhook


def test_handshake_echoes_the_challenge_only_for_our_token(tmp_path: Path) -> None:
    hook = WhatsAppWebhook(ws := settings(None, tmp_path), [ws])
    ok = hook.handshake(
        {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        }
    )
    assert (ok.status, ok.text) == (200, "1158201444")
    wrong = hook.handshake(
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert wrong.status == 403
    assert VERIFY_TOKEN not in wrong.text
    assert hook.handshake({"hub.verify_token": VERIFY_TOKEN}).status == 400


def test_unsigned_and_wrongly_signed_posts_are_refused_and_not_stored(
    tmp_path: Path,
) -> None:
    ws = settings(None, tmp_path)
    hook = WhatsAppWebhook(ws, [ws])
    body, _ = signed(
        message_webhook({"id": "wamid.A", "type": "text", "text": {"body": "x"}})
    )
    assert hook.receive(body, {}).status == 401
    forged = sign(body, "not-the-app-secret")
    answer = hook.receive(body, {"x-hub-signature-256": forged})
    assert answer.status == 401
    assert APP_SECRET not in answer.text
    assert spool_of(ws, tmp_path).count() == 0
    assert not (tmp_path / "wa").exists() or spool_of(ws).count() == 0


def test_signed_post_is_stored_once_even_when_meta_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = settings(None, Path("spool"))
    payload = message_webhook({"id": "wamid.A", "type": "text", "text": {"body": "x"}})
    assert deliver(ws, payload) == (200, "received")
    assert deliver(ws, payload) == (200, "already received")
    assert spool_of(ws).count() == 1
    assert (tmp_path / "spool" / "wa" / "new").is_dir()


def test_signed_but_unreadable_body_is_kept_and_answered_200(tmp_path: Path) -> None:
    ws = settings(None, tmp_path)
    body = b'{"object": "whatsapp_business_account", "entry": '
    answer = WhatsAppWebhook(ws, [ws]).receive(
        body, {"x-hub-signature-256": sign(body, APP_SECRET)}
    )
    assert answer.status == 200
    assert "kept" in answer.text
    kept = list((tmp_path / "wa" / "rejected").iterdir())
    assert [p.read_bytes() for p in kept] == [body]


def test_body_goes_to_the_channel_of_its_phone_number(tmp_path: Path) -> None:
    first = settings(None, tmp_path)
    second = WhatsAppChannelSettings.model_validate(
        {
            **channel_settings("http://x", str(tmp_path)),
            "name": "wa2",
            "phone_number_id": "222",
        }
    )
    payload = message_webhook(
        {"id": "wamid.B", "type": "text", "text": {"body": "x"}}, phone_number_id="222"
    )
    body, signature = signed(payload)
    # Meta calls the URL of the first channel: the body is for the second
    answer = WhatsAppWebhook(first, [first, second]).receive(
        body, {"x-hub-signature-256": signature}
    )
    assert answer.status == 200
    assert spool_of(second).count() == 1
    assert spool_of(first).count() == 0


# ---------------------------------------------------------------- fetch


async def test_text_message_becomes_an_item_keyed_by_the_business_scoped_id(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    deliver(
        ws,
        message_webhook(
            {"id": "wamid.T1", "type": "text", "text": {"body": "Jalan rusak"}}
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        result = await channel.fetch(None, 10)
        [item] = result.items
        assert item.external_id == "wamid:wamid.T1"
        assert item.text == "Jalan rusak"
        assert item.reporter.chat_id == USER
        assert item.reporter.phone == "+6281234567890"
        assert item.reporter.name == "Budi Santoso"
        # not confirmed: the same item comes again
        again = await channel.fetch(None, 10)
        assert [i.external_id for i in again.items] == ["wamid:wamid.T1"]
        await channel.after_commit(again)
        assert (await channel.fetch(None, 10)).items == []
    finally:
        await channel.close()


async def test_phone_number_may_be_absent(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    deliver(
        ws,
        message_webhook(
            {"id": "wamid.U", "type": "text", "text": {"body": "halo"}}, wa_id=None
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        [item] = (await channel.fetch(None, 10)).items
        assert item.reporter.chat_id == USER
        assert item.reporter.phone is None
    finally:
        await channel.close()


async def test_a_new_user_id_names_the_old_one(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    # user_changed_user_id (August 2026): only the business-scoped id
    # changed; the notice has no contacts and no new number
    ws = settings(whatsapp_api, tmp_path)
    notice = message_webhook(
        {
            "id": "wamid.SYS",
            "type": "system",
            "system": {
                "body": "User Budi Santoso's user ID changed",
                "type": "user_changed_user_id",
                "user_id": "ID.5555555555555555555",
                "previous_user_id": USER,
            },
        },
        wa_id=None,
    )
    del notice["entry"][0]["changes"][0]["value"]["contacts"]
    deliver(ws, notice)
    channel = WhatsAppChannel(ws)
    try:
        [item] = (await channel.fetch(None, 10)).items
        assert item.hint == "system"
        assert item.reporter.chat_id == "ID.5555555555555555555"
        assert item.previous_chat_ids == (USER,)
        assert b"user_changed_user_id" in item.raw
    finally:
        await channel.close()


async def test_photo_is_downloaded_and_checked(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    photo = b"\xff\xd8\xff" + b"jpeg" * 1000
    media_id = whatsapp_api.add_media(photo)
    gone_id = "123456789"  # never registered: Meta answers 100/33
    deliver(
        ws,
        message_webhook(
            {
                "id": "wamid.P",
                "type": "image",
                "image": {
                    "id": media_id,
                    "mime_type": "image/jpeg",
                    "sha256": hashlib.sha256(photo).hexdigest(),
                    "caption": "Lubang di Jl. Veteran",
                },
            }
        ),
    )
    deliver(
        ws,
        message_webhook(
            {
                "id": "wamid.G",
                "type": "document",
                "document": {
                    "id": gone_id,
                    "filename": "surat.pdf",
                    "mime_type": "application/pdf",
                },
            }
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        first, second = (await channel.fetch(None, 10)).items
        assert first.text == "Lubang di Jl. Veteran"
        [attachment] = first.attachments
        assert attachment.data == photo
        assert attachment.content_type == "image/jpeg"
        assert second.attachments == ()
        [missing] = second.missing_files
        assert missing.file_id == gone_id
        assert missing.filename == "surat.pdf"
        assert missing.reason.startswith("unavailable")
    finally:
        await channel.close()


async def test_tampered_media_is_not_stored(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    media_id = whatsapp_api.add_media(b"real bytes")
    deliver(
        ws,
        message_webhook(
            {
                "id": "wamid.S",
                "type": "image",
                "image": {"id": media_id, "sha256": "0" * 64},
            }
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        [item] = (await channel.fetch(None, 10)).items
        assert item.attachments == ()
        assert item.missing_files[0].reason == ("unavailable: sha256 mismatch")
    finally:
        await channel.close()


async def test_a_download_failing_for_now_is_retried_on_its_own(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_retry, "RETRY_DELAYS", (0.0,))
    ws = settings(whatsapp_api, tmp_path)
    media_id = whatsapp_api.add_media(b"bytes")
    deliver(
        ws,
        message_webhook(
            {
                "id": "wamid.R",
                "type": "image",
                "image": {"id": media_id, "caption": "Jembatan retak"},
            }
        ),
    )
    deliver(
        ws,
        message_webhook({"id": "wamid.T", "type": "text", "text": {"body": "Halo"}}),
    )
    whatsapp_api.fail("media", 2, "Service temporarily unavailable", times=2)
    channel = WhatsAppChannel(ws)
    try:
        # the message and the one after it go on without the file
        first = await channel.fetch(None, 10)
        message, after = first.items
        assert message.text == "Jembatan retak"
        assert after.text == "Halo"
        [missing] = message.missing_files
        assert missing.reason.startswith("retrying")
        assert TOKEN not in missing.reason
        await channel.after_commit(first)
        # Meta still failing: nothing comes, the file keeps waiting
        assert (await channel.fetch(None, 10)).items == []
        # then the file comes as an item answering its message
        later = await channel.fetch(None, 10)
        [late] = later.items
        assert late.attachments[0].data == b"bytes"
        assert late.in_reply_to == ("wa:wamid.R",)
        assert late.reporter.chat_id == USER
        assert late.received_at == message.received_at
        await channel.after_commit(later)
        assert (await channel.fetch(None, 10)).items == []
    finally:
        await channel.close()


async def test_a_download_failing_every_time_is_given_up_and_said(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_retry, "RETRY_DELAYS", (0.0,))
    ws = settings(whatsapp_api, tmp_path)
    media_id = whatsapp_api.add_media(b"bytes")
    deliver(
        ws,
        message_webhook({"id": "wamid.G", "type": "image", "image": {"id": media_id}}),
    )
    whatsapp_api.fail("media", 2, "Service temporarily unavailable", times=100)
    channel = WhatsAppChannel(ws)
    try:
        await channel.after_commit(await channel.fetch(None, 10))
        given_up = []
        for _ in range(media_retry.MAX_ATTEMPTS):
            result = await channel.fetch(None, 10)
            given_up.extend(result.items)
            await channel.after_commit(result)
        [item] = given_up
        assert item.attachments == ()
        [missing] = item.missing_files
        assert missing.reason.startswith("unavailable")
        assert f"{media_retry.MAX_ATTEMPTS} attempts" in missing.reason
        assert (await channel.fetch(None, 10)).items == []
    finally:
        await channel.close()


async def test_every_message_type_is_kept(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    messages = [
        {
            "id": "wamid.L",
            "type": "location",
            "location": {
                "latitude": -3.2417,
                "longitude": 116.2297,
                "name": "Pasar Kotabaru",
                "address": "Jl. Pangeran Hidayat",
            },
        },
        {
            "id": "wamid.B",
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "anonim ADU-7K3M-9Q2D", "title": "Anonim"},
            },
        },
        {
            "id": "wamid.Li",
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "/status", "title": "Status"},
            },
        },
        {
            "id": "wamid.C",
            "type": "contacts",
            "contacts": [
                {"name": {"formatted_name": "Siti"}, "phones": [{"phone": "+62 811"}]}
            ],
        },
        {
            "id": "wamid.Re",
            "type": "reaction",
            "reaction": {"message_id": "wamid.OUR", "emoji": "\U0001f44d"},
        },
        {
            "id": "wamid.X",
            "type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown"}],
        },
        {"id": "wamid.N", "type": "hologram", "hologram": {}},
        {
            "id": "wamid.S1",
            "type": "text",
            "text": {"body": "/status ADU-7K3M-9Q2D"},
            "context": {"from": "15550783881", "id": "wamid.OUR"},
        },
    ]
    for message in messages:
        deliver(ws, message_webhook(message))
    channel = WhatsAppChannel(ws)
    try:
        result = await channel.fetch(None, 20)
        items = {i.external_id.removeprefix("wamid:"): i for i in result.items}
        assert set(items) == {m["id"] for m in messages}
        loc = items["wamid.L"].location
        assert loc is not None
        assert (loc.latitude, loc.longitude) == (-3.2417, 116.2297)
        assert items["wamid.B"].command == "anonim"
        assert items["wamid.B"].command_args == "ADU-7K3M-9Q2D"
        assert items["wamid.Li"].command == "status"
        assert items["wamid.C"].hint == "foreign_contact"
        assert items["wamid.Re"].hint == "reaction"
        assert items["wamid.X"].hint == "unsupported"
        assert items["wamid.N"].hint == "unsupported"
        assert items["wamid.S1"].in_reply_to == ("wa:wamid.OUR",)
        assert items["wamid.S1"].command == "status"
    finally:
        await channel.close()


async def test_broken_message_is_quarantined_and_the_rest_goes_on(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    payload = message_webhook(
        {"id": "wamid.OK", "type": "text", "text": {"body": "ok"}}
    )
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"].append({"type": "text", "from_user_id": USER})  # no id
    value["messages"].append(
        {"id": "wamid.BadLoc", "type": "location", "location": {}, "from": "62811"}
    )
    deliver(ws, payload)
    # a number no channel has
    deliver(
        ws,
        message_webhook(
            {"id": "wamid.Z", "type": "text", "text": {"body": "?"}},
            phone_number_id="999",
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        result = await channel.fetch(None, 10)
        assert [i.external_id for i in result.items] == ["wamid:wamid.OK"]
        reasons = sorted(r.reason for r in result.rejected)
        assert len(reasons) == 3
        assert any("no id or type" in r or "without id" in r for r in reasons)
        assert any("latitude" in r for r in reasons)
        assert any("'999'" in r for r in reasons)
        assert all(r.raw for r in result.rejected)
        assert len({r.external_id for r in result.rejected}) == 3
    finally:
        await channel.close()


async def test_statuses_become_delivery_reports_not_items(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    deliver(ws, status_webhook("wamid.OUT", "delivered"))
    deliver(
        ws,
        status_webhook(
            "wamid.OLD", "failed", errors=[{"code": 131047, "title": "Re-engagement"}]
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        result = await channel.fetch(None, 10)
        assert result.items == []
        assert result.rejected == []
        reports = {r.remote_id: r for r in result.deliveries}
        assert reports["wa:wamid.OUT"].state == "delivered"
        assert not reports["wa:wamid.OUT"].resend
        assert reports["wa:wamid.OLD"].resend
        assert "131047" in reports["wa:wamid.OLD"].detail
    finally:
        await channel.close()


async def test_other_webhook_fields_are_kept_with_a_clear_reason(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "time": 1700000000,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "APPROVED",
                            "message_template_id": 594425479261596,
                            "message_template_name": "pengaduan_diterima",
                            "message_template_language": "id",
                            "reason": "NONE",
                        },
                    }
                ],
            }
        ],
    }
    assert deliver(ws, payload)[0] == 200
    channel = WhatsAppChannel(ws)
    try:
        result = await channel.fetch(None, 10)
        [kept] = result.rejected
        assert "message_template_status_update" in kept.reason
        assert json.loads(kept.raw) == payload
    finally:
        await channel.close()


# ---------------------------------------------------------------- replies


def reply(text: str = "Terima kasih.", **fields: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "channel": "wa",
        "recipient": USER,
        "text": text,
        "tracking_no": "ADU-7K3M-9Q2D",
        "idempotency_key": "wa:ack:1",
    }
    values.update(fields)
    return OutgoingReply(**values)


async def _opened(api: FakeWhatsAppApi, ws: WhatsAppChannelSettings) -> WhatsAppChannel:
    """A channel that just read a message of USER (the window is open)."""
    api.citizen_wrote(USER)
    deliver(
        ws, message_webhook({"id": "wamid.IN", "type": "text", "text": {"body": "x"}})
    )
    channel = WhatsAppChannel(ws)
    await channel.after_commit(await channel.fetch(None, 10))
    return channel


async def test_reply_in_the_window_is_free_text_with_reply_buttons(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    channel = await _opened(whatsapp_api, ws)
    try:
        choices = (
            ("Biasa", "biasa ADU-7K3M-9Q2D"),
            ("Anonim", "anonim ADU-7K3M-9Q2D"),
            ("Rahasia", "rahasia ADU-7K3M-9Q2D"),
        )
        remote = await channel.send_reply(reply("Pengaduan diterima.", choices=choices))
        [sent] = whatsapp_api.sent
        assert remote == f"wa:{sent['id']}"
        assert sent["recipient"] == USER
        assert sent["type"] == "interactive"
        buttons = sent["interactive"]["action"]["buttons"]
        assert [b["reply"]["id"] for b in buttons] == [c[1] for c in choices]
        # a long text goes first as text, the buttons under a short prompt
        await channel.send_reply(reply("a" * 2000, choices=choices))
        assert [s["type"] for s in whatsapp_api.sent[1:]] == ["text", "interactive"]
    finally:
        await channel.close()


async def test_outside_the_window_the_template_carries_the_tracking_number(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    whatsapp_api.approve_template("status_pengaduan", "id")
    ws = settings(
        whatsapp_api,
        tmp_path,
        templates={"status_update": {"name": "status_pengaduan", "language": "id"}},
    )
    channel = WhatsAppChannel(ws)
    try:
        await channel.send_reply(
            reply("Status: selesai", idempotency_key="wa:status:9")
        )
        [sent] = whatsapp_api.sent
        assert sent["type"] == "template"
        assert sent["template"]["name"] == "status_pengaduan"
        params = sent["template"]["components"][0]["parameters"]
        assert params == [{"type": "text", "text": "ADU-7K3M-9Q2D"}]
        with pytest.raises(RecipientUnreachable, match="acknowledgement template"):
            await channel.send_reply(reply())
    finally:
        await channel.close()


async def test_window_closed_error_is_answered_with_the_template(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    whatsapp_api.approve_template("pengaduan_diterima", "id")
    ws = settings(
        whatsapp_api,
        tmp_path,
        templates={"acknowledgement": {"name": "pengaduan_diterima"}},
    )
    channel = await _opened(whatsapp_api, ws)
    whatsapp_api.window_open.clear()  # Meta saw the window close
    try:
        await channel.send_reply(reply())
        assert [s["type"] for s in whatsapp_api.sent] == ["template"]
    finally:
        await channel.close()


async def test_rate_limit_is_retriable_with_a_delay_and_token_never_shown(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    channel = await _opened(whatsapp_api, ws)
    try:
        whatsapp_api.fail("messages", 130429, "Rate limit hit")
        with pytest.raises(ReplyRetriable) as caught:
            await channel.send_reply(reply())
        assert caught.value.retry_after
        assert caught.value.retry_after > 0
        whatsapp_api.fail("messages", 131026, "Message undeliverable")
        with pytest.raises(RecipientUnreachable):
            await channel.send_reply(reply())
        assert TOKEN not in repr(channel)
        assert APP_SECRET not in repr(channel)
    finally:
        await channel.close()


async def test_check_reports_a_rejected_token_as_fatal(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = WhatsAppChannelSettings.model_validate(
        {
            **channel_settings(whatsapp_api.base_url, str(tmp_path)),
            "access_token": "wrong-token",
        }
    )
    channel = WhatsAppChannel(ws)
    try:
        with pytest.raises(FatalChannelError) as caught:
            await channel.check()
        assert "wrong-token" not in str(caught.value)
    finally:
        await channel.close()
    good = WhatsAppChannel(settings(whatsapp_api, tmp_path))
    try:
        await good.check()
    finally:
        await good.close()


def test_secrets_are_absent_from_the_settings_repr(tmp_path: Path) -> None:
    ws = settings(None, tmp_path)
    shown = repr(ws) + str(ws.model_dump())
    for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in shown
    assert json.dumps(ws.model_dump(mode="json")).count(TOKEN) == 0


async def test_a_file_over_its_type_limit_is_noted_with_its_size(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    sticker = b"R" * (500 * 1024 + 1)  # stickers: 500 KB
    media_id = whatsapp_api.add_media(sticker, "image/webp")
    deliver(
        ws,
        message_webhook(
            {"id": "wamid.ST", "type": "sticker", "sticker": {"id": media_id}}
        ),
    )
    channel = WhatsAppChannel(ws)
    try:
        [item] = (await channel.fetch(None, 10)).items
        assert item.attachments == ()
        # stored with the record as they always were
        extras = stored_extras(item)
        assert extras["file_too_large"] is True
        assert extras["file_too_large_bytes"] == len(sticker)
        assert extras["max_file_bytes"] == 500 * 1024
        # never fetched: the size Meta reported was enough
        assert ("GET", f"/download/{media_id}") not in whatsapp_api.calls
    finally:
        await channel.close()


async def test_sends_stay_within_80_messages_a_second(
    whatsapp_api: FakeWhatsAppApi, tmp_path: Path
) -> None:
    ws = settings(whatsapp_api, tmp_path)
    channel = await _opened(whatsapp_api, ws)
    users = [f"ID.{n}" for n in range(170)]
    for user in users:
        whatsapp_api.citizen_wrote(user)
        channel._window.saw(user, time.time())
    refused = 0

    async def send(user: str) -> None:
        # as the outbox does: a send Meta refused for the rate is tried again
        # after the pause it was given
        nonlocal refused
        while True:
            try:
                await channel.send_reply(reply(recipient=user))
                return
            except ReplyRetriable as exc:
                refused += 1
                await asyncio.sleep(exc.retry_after or 1.0)

    try:
        # the emulator answers 130429 to the 81st message within a second:
        # unpaced, 170 sends at once would be refused about 90 times; paced,
        # none is, unless this shared machine stalls and the emulator gets a
        # handful at once
        await asyncio.gather(*(send(user) for user in users))
        assert len(whatsapp_api.sent) == 170
        assert refused <= 10
    finally:
        await channel.close()


def test_a_body_also_for_an_unconfigured_number_is_kept_for_staff(
    tmp_path: Path,
) -> None:
    ws = settings(None, tmp_path)
    payload = message_webhook({"id": "wamid.M1", "type": "text", "text": {"body": "a"}})
    other = message_webhook(
        {"id": "wamid.M2", "type": "text", "text": {"body": "b"}},
        phone_number_id="777",
    )
    payload["entry"].extend(other["entry"])
    status, _text = deliver(ws, payload)
    assert status == 200
    assert spool_of(ws).count() == 1
    kept = list((tmp_path / "wa" / "rejected").iterdir())
    assert len(kept) == 1
    assert b"wamid.M2" in kept[0].read_bytes()
