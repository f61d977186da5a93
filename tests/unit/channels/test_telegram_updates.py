"""Bot API updates → items: every real sample in tests/fixtures/telegram
becomes one item or is skipped for a stated reason, and each kind of message
carries what the pipeline needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from channels.telegram.updates import (
    Converted,
    MalformedUpdate,
    Skipped,
    convert_update,
    reply_target,
    split_text,
)
from tests.conftest import FIXTURES

DATA = FIXTURES / "telegram"
SAMPLES = sorted(DATA.rglob("*.json"))

# what each sample must become with private_chats_only (the default):
# "item" or the start of the skip reason
EXPECTED = {
    # a press on an inline-mode message, data not one of our buttons
    "callback_query.json": "button not ours",
    "chosen_inline_query.json": "update kind not handled: chosen_inline_result",
    "inline_query.json": "update kind not handled: inline_query",
    "get-updates-channel-post.result0.json": "channel post",
    "get-updates-message.contact.json": "supergroup chat",
    "get-updates-message.document_caption.json": "supergroup chat",
    "get-updates-message.location.json": "supergroup chat",
    "get-updates-message.photo_caption.json": "supergroup chat",
    "get-updates-message.sender_chat_no_from.json": "group chat",
    "get-updates-message.unknown_field.json": "supergroup chat",
    "get-updates-message.venue.json": "supergroup chat",
    "message_with_successful_payment.json": "service message",
    "pre_checkout_query.json": "update kind not handled: pre_checkout_query",
    "shipping_query.json": "update kind not handled: shipping_query",
}
MALFORMED = {
    # illemius ships these as bare objects without update_id
    "illemius-telegram_types/res/inline_query.json",
    "illemius-telegram_types/res/message_with_invoice.json",
}


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _one(update, **kwargs) -> Converted:
    result = convert_update(update, channel="tg", **kwargs)
    assert isinstance(result, Converted), result
    return result


def test_the_sample_folder_is_there():
    assert len(SAMPLES) >= 39


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_becomes_an_item_or_is_skipped_for_a_reason(path):
    update = _load(path)
    rel = str(path.relative_to(DATA))
    if rel in MALFORMED:
        with pytest.raises(MalformedUpdate, match="update_id"):
            convert_update(update, channel="tg")
        return
    result = convert_update(update, channel="tg")
    expected = EXPECTED.get(path.name, "item")
    if expected == "item":
        assert isinstance(result, Converted), result
        item = result.item
        assert item.external_id.startswith(("msg:", "edit:"))
        assert item.reporter.chat_id
        assert json.loads(item.raw) == update
        assert item.raw_format == "json"
    else:
        assert isinstance(result, Skipped)
        assert result.reason.startswith(expected)


@pytest.mark.parametrize(
    "name", ["get-updates-message.photo_caption.json", "get-updates-message.venue.json"]
)
def test_group_samples_convert_when_groups_are_allowed(name):
    update = _load(DATA / "tg-rs-tgbot" / name)
    item = _one(update, private_chats_only=False).item
    assert item.metadata["chat_type"] == "supergroup"


def test_text_message_carries_reporter_and_stable_ids():
    update = _load(DATA / "illemius-telegram_types" / "res" / "message.json")
    item = _one(update).item
    assert item.text == "Hi, world!"
    assert item.external_id == "msg:12345678:11223"
    assert item.message_id == "tg:12345678:11223"
    assert item.reporter.name == "FirstName LastName"
    assert item.reporter.handle == "username"
    assert item.reporter.chat_id == "12345678"
    assert item.received_at.tzinfo is not None
    assert item.received_at.year == 2017


def test_edit_has_its_own_id_and_points_at_the_original():
    update = _load(DATA / "illemius-telegram_types" / "res" / "edited_message.json")
    item = _one(update).item
    assert item.external_id == "edit:12345678:12345:1508825379"
    assert item.edit_of == "msg:12345678:12345"
    assert item.text == "hi there (edited)"
    assert item.command is None


def test_reply_points_at_the_message_it_answers():
    update = _load(DATA / "illemius-telegram_types" / "res" / "reply_message.json")
    item = _one(update).item
    chat = update["message"]["chat"]["id"]
    replied = update["message"]["reply_to_message"]["message_id"]
    assert item.in_reply_to == (f"tg:{chat}:{replied}",)


def test_largest_photo_is_chosen_and_caption_is_the_text():
    update = _load(DATA / "illemius-telegram_types" / "res" / "message_with_photo.json")
    result = _one(update)
    sizes = update["message"]["photo"]
    largest = max(sizes, key=lambda s: s["width"] * s["height"])
    assert [f.file_id for f in result.files] == [largest["file_id"]]
    assert result.files[0].content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("name", "kind", "content_type"),
    [
        ("message_with_document.json", "document", "application/vnd.openxml"),
        ("message_with_voice.json", "voice", "audio/ogg"),
        ("message_with_audio.json", "audio", "audio/mpeg3"),
        ("message_with_video.json", "video", "video/"),
    ],
)
def test_media_messages_describe_their_file(name, kind, content_type):
    update = _load(DATA / "illemius-telegram_types" / "res" / name)
    result = _one(update)
    assert [f.kind for f in result.files] == [kind]
    assert result.files[0].content_type.startswith(content_type)
    assert result.files[0].filename


def test_document_keeps_its_file_name():
    update = _load(
        DATA / "illemius-telegram_types" / "res" / "message_with_document.json"
    )
    result = _one(update)
    assert result.files[0].filename == "test.docx"
    assert result.item.text == "doc description"


def test_location_and_venue_become_the_location():
    update = _load(
        DATA / "illemius-telegram_types" / "res" / "message_with_location.json"
    )
    item = _one(update).item
    loc = update["message"]["location"]
    assert item.location is not None
    assert (item.location.latitude, item.location.longitude) == (
        loc["latitude"],
        loc["longitude"],
    )
    venue = _load(DATA / "tg-rs-tgbot" / "get-updates-message.venue.json")
    item = _one(venue, private_chats_only=False).item
    assert item.location is not None
    assert item.location.label == "venue title, venue address"
    assert (item.location.latitude, item.location.longitude) == (2.0, 1.0)


def test_sticker_is_a_hint_not_a_report():
    update = _load(
        DATA / "illemius-telegram_types" / "res" / "message_with_sticker.json"
    )
    item = _one(update).item
    assert item.hint == "sticker"
    assert item.text is None


def _message(**fields):
    message = {
        "message_id": 7,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private", "first_name": "Siti"},
        "from": {"id": 42, "is_bot": False, "first_name": "Siti"},
    }
    message.update(fields)
    return {"update_id": 900, "message": message}


@pytest.mark.parametrize(
    ("text", "command", "args"),
    [
        ("/start", "start", ""),
        ("/status ADU-7K3M-9Q2D", "status", "ADU-7K3M-9Q2D"),
        ("/status@dengar_bot", "status", ""),
        ("/baru", "baru", ""),
        ("/ANONIM", "anonim", ""),
        ("/rahasia tolong", "rahasia", "tolong"),
    ],
)
def test_commands_from_bot_command_entities(text, command, args):
    length = len(text.split()[0])
    entities = [{"type": "bot_command", "offset": 0, "length": length}]
    item = _one(_message(text=text, entities=entities)).item
    assert item.command == command
    assert item.command_args == args


def test_unknown_command_is_a_hint_and_a_slash_in_prose_is_not_a_command():
    item = _one(
        _message(
            text="/foo", entities=[{"type": "bot_command", "offset": 0, "length": 4}]
        )
    ).item
    assert item.hint == "unknown_command"
    assert item.command is None
    item = _one(_message(text="jalan 1/2 rusak")).item
    assert item.command is None
    assert item.hint is None


def test_own_contact_gives_the_phone_but_someone_elses_does_not():
    own = {"phone_number": "+628123", "first_name": "Siti", "user_id": 42}
    item = _one(_message(contact=own)).item
    assert item.reporter.phone == "+628123"
    assert item.contact_shared is True
    other = {"phone_number": "+62999", "first_name": "Budi", "user_id": 77}
    item = _one(_message(contact=other)).item
    assert item.reporter.phone is None
    assert item.hint == "foreign_contact"


def test_album_parts_carry_the_media_group():
    photo = [{"file_id": "a", "file_unique_id": "u", "width": 1, "height": 1}]
    item = _one(_message(photo=photo, media_group_id="1357")).item
    assert item.media_group_id == "1357"


def test_animation_is_not_counted_twice_as_document():
    anim = {"file_id": "g", "file_unique_id": "u", "mime_type": "video/mp4"}
    result = _one(_message(animation=anim, document=anim))
    assert [f.kind for f in result.files] == ["animation"]


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ([1, 2], "not an object"),
        ({"message": {}}, "update_id"),
        ({"update_id": 1, "message": "x"}, "message is not an object"),
        ({"update_id": 1, "message": {"message_id": 1}}, "chat"),
        (
            {"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}}},
            "message_id",
        ),
    ],
)
def test_unreadable_updates_say_what_is_wrong(update, reason):
    with pytest.raises(MalformedUpdate, match=reason):
        convert_update(update, channel="tg")


def test_location_out_of_range_is_malformed():
    with pytest.raises(MalformedUpdate, match="out of range"):
        convert_update(
            _message(location={"latitude": 123.0, "longitude": 5.0}), channel="tg"
        )


def test_an_edited_caption_does_not_bring_the_photo_again():
    photo = [{"file_id": "a", "file_unique_id": "u", "width": 1, "height": 1}]
    update = _message(photo=photo, caption="jalan rusak parah", edit_date=1_700_000_100)
    update["edited_message"] = update.pop("message")
    result = _one(update)
    assert result.files == ()
    assert result.item.text == "jalan rusak parah"
    assert result.item.edit_of == "msg:42:7"


def test_long_text_is_split_at_line_breaks_within_the_limit():
    text = "\n".join(f"baris {n} " + "x" * 100 for n in range(100))
    parts = split_text(text)
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(parts) == text
    assert all(p.endswith("\n") for p in parts[:-1])
    assert split_text("pendek") == ["pendek"]
    assert "".join(split_text("y" * 9000)) == "y" * 9000


@pytest.mark.parametrize(
    ("ref", "chat", "expected"),
    [
        ("tg:42:17", 42, 17),
        ("tg:43:17", 42, None),  # another chat's message cannot be quoted
        ("<abc@example.org>", 42, None),
        (None, 42, None),
        ("tg:42:x", 42, None),
    ],
)
def test_reply_target_only_threads_within_the_same_chat(ref, chat, expected):
    assert reply_target(ref, chat) == expected


def _press(data: str, chat_type: str = "private") -> dict:
    user = {"id": 42, "is_bot": False, "first_name": "Siti", "username": "siti_r"}
    chat = {"id": 42 if chat_type == "private" else -100, "type": chat_type}
    return {
        "update_id": 501,
        "callback_query": {
            "id": "7000001",
            "from": user,
            "message": {"message_id": 3, "chat": chat, "date": 1, "text": "Terima…"},
            "chat_instance": "-1",
            "data": data,
        },
    }


def test_a_press_of_our_button_is_the_command_it_carries():
    item = _one(_press("anonim ADU-7K3M-9Q2D")).item
    assert item.external_id == "button:7000001"
    assert item.command == "anonim"
    assert item.command_args == "ADU-7K3M-9Q2D"
    assert item.button_press_id == "7000001"
    assert item.reporter.chat_id == "42"
    assert item.reporter.name == "Siti"


def test_a_press_in_a_group_or_with_foreign_data_is_skipped():
    group = convert_update(_press("anonim ADU-7K3M-9Q2D", "group"), channel="tg")
    assert isinstance(group, Skipped)
    foreign = convert_update(_press("hapus semua"), channel="tg")
    assert isinstance(foreign, Skipped)
    assert foreign.reason == "button not ours"
