"""The real python-telegram-bot client against the local Bot API emulator,
over HTTP: fetching, offsets, downloads, 429, 403 and network failures
(webhook mode: tests/integration/test_telegram_webhook.py)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest

from channels.telegram.channel import TelegramChannel
from config.channel_settings import TelegramChannelSettings
from contracts.errors import (
    FatalChannelError,
    RecipientUnreachable,
    ReplyRetriable,
    RetriableChannelError,
)
from contracts.records import OutgoingReply, stored_extras
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.services import free_port


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


def _settings(base_url: str, **overrides) -> TelegramChannelSettings:
    values = {
        "type": "telegram",
        "name": "tg",
        "token": TOKEN,
        "api_base_url": base_url,
        "long_poll_timeout": 0,
    }
    values.update(overrides)
    return TelegramChannelSettings.model_validate(values)


@pytest.fixture
async def channel(api):
    ch = TelegramChannel(_settings(api.base_url))
    yield ch
    await ch.close()


async def test_check_accepts_the_token_and_refuses_a_wrong_one(api, channel):
    await channel.check()
    wrong = TelegramChannel(_settings(api.base_url, token="999:wrong-token"))
    with pytest.raises(FatalChannelError, match="rejected the bot token") as info:
        await wrong.check()
    assert "wrong-token" not in str(info.value)
    await wrong.close()


async def test_text_photo_location_and_contact_arrive_with_their_content(api, channel):
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    small = api.add_file(b"thumb")
    big = api.add_file(jpeg)
    await api.push_message(42, "Jalan di depan SDN 3 berlubang besar")
    await api.push_message(
        42,
        photo=[
            {**small, "width": 90, "height": 60},
            {**big, "width": 1280, "height": 960},
        ],
        caption="ini fotonya",
    )
    await api.push_message(42, location={"latitude": -8.65, "longitude": 115.21})
    await api.push_message(
        42, contact={"phone_number": "+6281234", "first_name": "W", "user_id": 42}
    )
    result = await channel.fetch(None, 100)
    text, photo, place, contact = result.items
    assert text.text == "Jalan di depan SDN 3 berlubang besar"
    assert text.reporter.chat_id == "42"
    assert photo.text == "ini fotonya"
    [attachment] = photo.attachments
    assert attachment.data == jpeg
    assert (
        hashlib.sha256(attachment.data).hexdigest() == hashlib.sha256(jpeg).hexdigest()
    )
    assert attachment.content_type == "image/jpeg"
    assert place.location is not None
    assert (place.location.latitude, place.location.longitude) == (-8.65, 115.21)
    assert contact.reporter.phone == "+6281234"


async def test_updates_are_confirmed_only_by_the_next_fetch(api, channel):
    await api.push_message(42, "satu")
    await api.push_message(42, "dua")
    first = await channel.fetch(None, 100)
    assert [i.text for i in first.items] == ["satu", "dua"]
    # Nothing confirmed yet: a crash here (cursor not stored) brings them back.
    assert len(api.updates) == 2
    restarted = TelegramChannel(_settings(api.base_url))
    again = await restarted.fetch(None, 100)
    await restarted.close()
    assert [i.external_id for i in again.items] == [i.external_id for i in first.items]
    # The stored cursor confirms them.
    await api.push_message(42, "tiga")
    second = await channel.fetch(first.cursor, 100)
    assert [i.text for i in second.items] == ["tiga"]
    assert api.offsets_seen()[-1] == int(first.cursor)
    assert [u["message"]["text"] for u in api.updates] == ["tiga"]


async def test_a_batch_cut_at_limit_says_there_is_more(api, channel):
    for n in range(5):
        await api.push_message(42, f"pesan {n}")
    result = await channel.fetch(None, 3)
    assert len(result.items) == 3
    assert result.more is True
    rest = await channel.fetch(result.cursor, 3)
    assert [i.text for i in rest.items] == ["pesan 3", "pesan 4"]
    assert rest.more is False


async def test_long_poll_returns_an_update_sent_while_waiting(api):
    ch = TelegramChannel(_settings(api.base_url, long_poll_timeout=10))
    await ch.check()
    fetching = asyncio.create_task(ch.fetch(None, 100))
    await asyncio.sleep(0.2)
    assert not fetching.done()
    await api.push_message(42, "datang saat menunggu")
    result = await fetching
    assert [i.text for i in result.items] == ["datang saat menunggu"]
    await ch.close()


async def test_group_posts_and_unknown_kinds_are_skipped_and_counted(api, channel):
    group_chat = {"id": -100, "type": "supergroup", "title": "Warga RT 5"}
    await api.push_update(
        {"message": api.make_message(7, "halo grup", chat=group_chat)}
    )
    await api.push_update({"callback_query": {"id": "1", "data": "x"}})
    await api.push_update({"brand_new_kind": {"whatever": True}})
    await api.push_message(42, "laporan")
    result = await channel.fetch(None, 100)
    assert [i.text for i in result.items] == ["laporan"]
    assert result.skipped == 3
    assert result.rejected == []


async def test_an_unreadable_update_is_quarantined_and_the_batch_goes_on(api, channel):
    bad = await api.push_update({"message": {"message_id": 1, "text": "no chat"}})
    await api.push_message(42, "laporan yang baik")
    result = await channel.fetch(None, 100)
    assert [i.text for i in result.items] == ["laporan yang baik"]
    [rejected] = result.rejected
    assert rejected.external_id == f"update:{bad['update_id']}"
    assert "no chat" in rejected.raw.decode()
    assert "chat" in rejected.reason
    # the cursor moves past it: it is quarantined, not fetched forever
    assert int(result.cursor) > bad["update_id"]


async def test_a_file_over_the_limit_is_flagged_not_lost_silently(api):
    ch = TelegramChannel(_settings(api.base_url, max_file_bytes=1000))
    video = api.add_file(b"v" * 5000, suffix="mp4")
    await api.push_message(
        42, video={**video, "mime_type": "video/mp4"}, caption="banjir"
    )
    # file_size missing in the message: the limit is checked after getFile
    doc = api.add_file(b"d" * 5000, suffix="pdf")
    del doc["file_size"]
    await api.push_message(42, document={**doc, "file_name": "surat.pdf"})
    first, second = (await ch.fetch(None, 100)).items
    await ch.close()
    assert first.text == "banjir"
    assert first.attachments == ()
    [too_large] = first.missing_files
    assert (too_large.reason, too_large.size) == ("too_large", 5000)
    assert first.max_file_bytes == 1000
    # stored with the record as they always were
    assert stored_extras(first)["file_too_large"] is True
    assert stored_extras(first)["file_too_large_bytes"] == 5000
    assert stored_extras(first)["max_file_bytes"] == 1000
    assert stored_extras(second)["file_too_large_name"] == "surat.pdf"


async def test_public_servers_getfile_refusal_is_flagged_too(api, channel):
    doc = api.add_file(b"d" * 10, suffix="pdf")
    api.fail("getFile", 400, description="Bad Request: file is too big")
    await api.push_message(42, document={**doc, "file_name": "besar.pdf"}, caption="x")
    [item] = (await channel.fetch(None, 100)).items
    assert stored_extras(item)["file_too_large"] is True
    assert item.missing_files[0].reason == "too_large"


async def test_flood_control_on_getupdates_is_retriable_with_its_delay(api, channel):
    await api.push_message(42, "x")
    api.fail("getUpdates", 429, retry_after=17)
    with pytest.raises(RetriableChannelError) as info:
        await channel.fetch(None, 100)
    assert info.value.retry_after == 17
    assert [i.text for i in (await channel.fetch(None, 100)).items] == ["x"]


async def test_server_errors_and_an_unreachable_server_are_retriable(api, channel):
    api.fail("getUpdates", 502)
    with pytest.raises(RetriableChannelError):
        await channel.fetch(None, 100)
    gone = TelegramChannel(_settings(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(RetriableChannelError):
        await gone.fetch(None, 100)
    with pytest.raises(ReplyRetriable):
        await gone.send_reply(OutgoingReply(channel="tg", recipient="42", text="x"))
    await gone.close()


async def test_a_webhook_left_set_is_removed_before_polling(api, channel):
    api.webhook_url = "https://example.go.id/hook"
    await api.push_message(42, "x")
    result = await channel.fetch(None, 100)
    assert [i.text for i in result.items] == ["x"]
    assert api.webhook_url == ""


async def test_reply_is_sent_threaded_and_its_id_returned(api, channel):
    remote_id = await channel.send_reply(
        OutgoingReply(
            channel="tg",
            recipient="42",
            text="Terima kasih. Nomor pelacakan ADU-7K3M-9Q2D.",
            in_reply_to="tg:42:5",
        )
    )
    [sent] = api.sent
    assert sent.chat_id == 42
    assert "ADU-7K3M-9Q2D" in sent.text
    assert sent.reply_to_message_id == 5
    assert remote_id == f"tg:42:{sent.message_id}"


async def test_a_long_reply_is_split_into_messages_telegram_accepts(api, channel):
    text = "\n".join(f"baris {n} " + "x" * 90 for n in range(100))
    await channel.send_reply(OutgoingReply(channel="tg", recipient="42", text=text))
    assert len(api.sent) == 3
    assert "".join(m.text for m in api.sent) == text


async def test_blocked_bot_makes_the_recipient_unreachable(api, channel):
    api.block(42)
    with pytest.raises(RecipientUnreachable, match="blocked by the user"):
        await channel.send_reply(OutgoingReply(channel="tg", recipient="42", text="x"))


async def test_flood_control_on_send_is_retriable_after_its_delay(api, channel):
    api.fail("sendMessage", 429, retry_after=30)
    with pytest.raises(ReplyRetriable) as info:
        await channel.send_reply(OutgoingReply(channel="tg", recipient="42", text="x"))
    assert info.value.retry_after == 30
    await channel.send_reply(OutgoingReply(channel="tg", recipient="42", text="x"))
    assert len(api.sent) == 1


async def test_not_a_chat_id_is_unreachable(channel):
    with pytest.raises(RecipientUnreachable):
        await channel.send_reply(
            OutgoingReply(channel="tg", recipient="warga@example.com", text="x")
        )


async def test_the_token_never_reaches_logs_or_repr(api, channel, caplog):
    caplog.set_level(logging.DEBUG)
    await api.push_message(42, "x")
    await channel.fetch(None, 100)
    await channel.send_reply(OutgoingReply(channel="tg", recipient="42", text="x"))
    assert "Calling Bot API endpoint `sendMessage`" in caplog.text  # calls logged
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert TOKEN not in repr(channel)
