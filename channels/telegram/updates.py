"""Bot API JSON ↔ Dengar records, without network access: ``Update`` →
``InboundMessage``, and the shape of outgoing text.

Works on the raw JSON rather than python-telegram-bot's objects on purpose:
PTB's ``Update.de_json`` refuses updates that lack a field it requires
(``is_bot``, ``file_unique_id`` in older or third-party payloads), and one
such update would fail the whole ``getUpdates`` batch. Here every update is
judged on its own: converted, skipped with a reason (group chats, update
kinds we do not handle), or reported as malformed for quarantine. Unknown
fields are ignored.

Files are only described (``FileRef``); the channel downloads them.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.records import InboundMessage, Location, Reporter

MAX_MESSAGE_CHARS = 4096  # Bot API limit of sendMessage text
COMMANDS = frozenset({"start", "status", "baru", "biasa", "anonim", "rahasia"})
# the commands an inline button may carry as its callback_data ("<command>
# <tracking no>"): the acknowledgement's choice of confidentiality
BUTTON_COMMANDS = frozenset({"biasa", "anonim", "rahasia"})
# message kinds we cannot turn into a report: answered with a polite hint
HINT_KINDS = ("sticker", "dice", "poll", "game", "invoice", "story")
# service messages (someone joined, a payment went through): not from a citizen
SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "channel_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "successful_payment",
        "refunded_payment",
        "message_auto_delete_timer_changed",
        "users_shared",
        "chat_shared",
        "write_access_allowed",
        "video_chat_started",
        "video_chat_ended",
        "forum_topic_created",
    }
)
_FILE_KINDS = ("document", "video", "voice", "audio", "video_note", "animation")
_DEFAULT_TYPES = {
    "photo": "image/jpeg",
    "video": "video/mp4",
    "video_note": "video/mp4",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "animation": "video/mp4",
    "document": "application/octet-stream",
}
_COMMAND_TEXT = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?=\s|$)")


class MalformedUpdate(ValueError):
    """The update cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a message carries, still on Telegram's servers."""

    kind: str  # photo, document, video, voice, audio, video_note, animation
    file_id: str
    filename: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Converted:
    """An update as an item (attachments still to download) and its files."""

    item: InboundMessage
    files: tuple[FileRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An update deliberately not handed to the pipeline, and why."""

    reason: str


def update_id_of(update: object) -> int | None:
    """The update's ``update_id``, or None when it has no valid one."""
    if isinstance(update, Mapping):
        value = update.get("update_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def convert_update(
    update: object, *, channel: str, private_chats_only: bool = True
) -> Converted | Skipped:
    """Turn one Bot API update into an item, or say why it is skipped.

    Raises ``MalformedUpdate`` when the update is not readable at all.
    """
    if not isinstance(update, Mapping):
        raise MalformedUpdate(f"update is a {type(update).__name__}, not an object")
    if update_id_of(update) is None:
        raise MalformedUpdate("update has no integer update_id")
    raw = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
    for key in ("message", "edited_message"):
        if key in update:
            message = update[key]
            if not isinstance(message, Mapping):
                raise MalformedUpdate(f"{key} is not an object")
            return _convert_message(
                message,
                update_id=int(update["update_id"]),
                edited=key == "edited_message",
                raw=raw,
                channel=channel,
                private_chats_only=private_chats_only,
            )
    if "callback_query" in update:
        query = update["callback_query"]
        if not isinstance(query, Mapping):
            raise MalformedUpdate("callback_query is not an object")
        return _convert_button(
            query,
            update_id=int(update["update_id"]),
            raw=raw,
            channel=channel,
            private_chats_only=private_chats_only,
        )
    kinds = [k for k in update if k != "update_id"]
    if any(k in ("channel_post", "edited_channel_post") for k in kinds):
        return Skipped("channel post")
    return Skipped(f"update kind not handled: {', '.join(kinds) or 'empty'}")


def _convert_message(
    message: Mapping[str, Any],
    *,
    update_id: int,
    edited: bool,
    raw: bytes,
    channel: str,
    private_chats_only: bool,
) -> Converted | Skipped:
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or not _is_int(chat.get("id")):
        raise MalformedUpdate("message has no chat with an integer id")
    message_id = message.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise MalformedUpdate("message has no integer message_id")
    chat_id = int(chat["id"])
    chat_type = _chat_type(chat)
    if private_chats_only and chat_type != "private":
        return Skipped(f"{chat_type} chat (private_chats_only)")
    if any(key in message for key in SERVICE_KEYS):
        return Skipped("service message")

    sender = message.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    text = _str(message.get("text"))
    caption = _str(message.get("caption"))
    metadata: dict[str, Any] = {"update_id": update_id, "chat_type": chat_type}
    base_id = f"msg:{chat_id}:{message_id}"
    edit_of: str | None = None
    command_name: str | None = None
    command_args = ""
    hint: str | None = None
    contact_shared = False
    if edited:
        edit_date = message.get("edit_date")
        stamp = edit_date if _is_int(edit_date) else message.get("date", 0)
        external_id = f"edit:{chat_id}:{message_id}:{stamp}"
        edit_of = base_id
        received_at = _time(stamp)
    else:
        external_id = base_id
        received_at = _time(message.get("date"))

    if text is not None and not edited:
        command = _command(text, message.get("entities"))
        if command is not None:
            name, args = command
            if name in COMMANDS:
                command_name, command_args = name, args
            else:
                hint = "unknown_command"
                metadata["unknown_command"] = name

    files = _files(message, message_id)
    if edited and files:
        # an edit repeats the original's media; storing it again would
        # double the case's attachments (only the caption changed, mostly)
        metadata["edited_media"] = True
        files = ()
    location = _location(message)
    reporter = _reporter(chat, sender, message)
    contact = message.get("contact")
    if isinstance(contact, Mapping):
        own = sender.get("id") is not None and contact.get("user_id") == sender.get(
            "id"
        )
        if own and _str(contact.get("phone_number")):
            reporter = Reporter(
                name=reporter.name,
                handle=reporter.handle,
                chat_id=reporter.chat_id,
                phone=_str(contact.get("phone_number")),
            )
            contact_shared = True
        else:
            hint = "foreign_contact"

    body = text if text is not None else caption
    if (
        body is None
        and not files
        and location is None
        and not contact_shared
        and hint is None
    ):
        hint = _hint_kind(message)
    group = message.get("media_group_id")
    if any(k in message for k in ("forward_origin", "forward_from", "forward_date")):
        metadata["forwarded"] = True
    if "sender_chat" in message and not sender:
        metadata["sender_chat"] = True

    in_reply_to: tuple[str, ...] = ()
    reply = message.get("reply_to_message")
    if isinstance(reply, Mapping) and _is_int(reply.get("message_id")):
        in_reply_to = (f"tg:{chat_id}:{reply['message_id']}",)

    item = InboundMessage(
        channel=channel,
        external_id=external_id,
        received_at=received_at,
        raw=raw,
        raw_format="json",
        text=body,
        reporter=reporter,
        location=location,
        in_reply_to=in_reply_to,
        message_id=f"tg:{chat_id}:{message_id}",
        metadata=metadata,
        command=command_name,
        command_args=command_args,
        hint=hint,
        contact_shared=contact_shared,
        edit_of=edit_of,
        media_group_id=group if isinstance(group, str) else None,
    )
    return Converted(item=item, files=files)


def _convert_button(
    query: Mapping[str, Any],
    *,
    update_id: int,
    raw: bytes,
    channel: str,
    private_chats_only: bool,
) -> Converted | Skipped:
    """A press of one of our inline buttons, as the command it carries
    (``button_press_id``: the channel answers it once stored)."""
    data = _str(query.get("data")) or ""
    name, _, args = data.partition(" ")
    if name not in BUTTON_COMMANDS:
        # not a button of ours (an inline-mode message, a forged press)
        return Skipped("button not ours")
    query_id = _str(query.get("id"))
    sender = query.get("from")
    if not query_id or not isinstance(sender, Mapping) or not _is_int(sender.get("id")):
        raise MalformedUpdate("callback_query has no id or no sender")
    message = query.get("message")
    message = message if isinstance(message, Mapping) else {}
    chat = message.get("chat")
    # a message too old to be sent along: the button was in the sender's
    # private chat with the bot, whose id is the sender's
    chat = chat if isinstance(chat, Mapping) and _is_int(chat.get("id")) else None
    chat = chat or {"id": sender["id"], "type": "private"}
    chat_type = _chat_type(chat)
    if private_chats_only and chat_type != "private":
        return Skipped(f"button in a {chat_type} chat (private_chats_only)")
    metadata: dict[str, Any] = {"update_id": update_id, "chat_type": chat_type}
    item = InboundMessage(
        channel=channel,
        external_id=f"button:{query_id}",
        # a press carries no time of its own
        received_at=datetime.now(UTC),
        raw=raw,
        raw_format="json",
        text=f"/{data}" if data else None,
        reporter=_reporter(chat, sender, message),
        metadata=metadata,
        command=name,
        command_args=args.strip(),
        button_press_id=query_id,
    )
    return Converted(item=item)


def reply_target(in_reply_to: str | None, chat_id: int) -> int | None:
    """The message id to thread under, from ``tg:<chat>:<message_id>``."""
    if not in_reply_to:
        return None
    parts = in_reply_to.split(":")
    if len(parts) == 3 and parts[0] == "tg" and parts[1] == str(chat_id):
        try:
            return int(parts[2])
        except ValueError:
            return None
    return None


def split_text(text: str) -> list[str]:
    """Split at line breaks so each part fits one Telegram message."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > MAX_MESSAGE_CHARS:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:MAX_MESSAGE_CHARS])
            line = line[MAX_MESSAGE_CHARS:]
        if len(current) + len(line) > MAX_MESSAGE_CHARS:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return parts


def _chat_type(chat: Mapping[str, Any]) -> str:
    value = chat.get("type")
    if isinstance(value, str) and value:
        return value
    # Bot API examples from before ``type`` was documented: user chats have
    # positive ids and no title.
    return "private" if int(chat["id"]) > 0 and "title" not in chat else "group"


def _reporter(
    chat: Mapping[str, Any], sender: Mapping[str, Any], message: Mapping[str, Any]
) -> Reporter:
    source: Mapping[str, Any] = sender
    if not source:
        sender_chat = message.get("sender_chat")
        source = sender_chat if isinstance(sender_chat, Mapping) else chat
    parts = [_str(source.get("first_name")), _str(source.get("last_name"))]
    name = " ".join(p for p in parts if p) or _str(source.get("title"))
    return Reporter(
        name=name or None,
        handle=_str(source.get("username")),
        chat_id=str(chat["id"]),
    )


def _command(text: str, entities: object) -> tuple[str, str] | None:
    """``(name, args)`` when ``text`` starts with a bot command."""
    length = None
    if isinstance(entities, list):
        for entity in entities:
            if (
                isinstance(entity, Mapping)
                and entity.get("type") == "bot_command"
                and entity.get("offset") == 0
                and _is_int(entity.get("length"))
            ):
                length = int(entity["length"])
                break
    if length is None:
        # old clients and hand-written examples omit the entity
        match = _COMMAND_TEXT.match(text)
        if match is None:
            return None
        length = match.end()
    head = text[1:length]
    name = head.split("@", 1)[0].lower()
    return name, text[length:].strip()


def _files(message: Mapping[str, Any], message_id: int) -> tuple[FileRef, ...]:
    refs: list[FileRef] = []
    photo = message.get("photo")
    if isinstance(photo, list):
        sizes = [p for p in photo if isinstance(p, Mapping) and _str(p.get("file_id"))]
        if sizes:
            largest = max(sizes, key=_photo_size)
            refs.append(
                FileRef(
                    kind="photo",
                    file_id=str(largest["file_id"]),
                    filename=f"photo_{message_id}.jpg",
                    content_type="image/jpeg",
                    size=_size(largest.get("file_size")),
                )
            )
    for kind in _FILE_KINDS:
        obj = message.get(kind)
        if not isinstance(obj, Mapping) or not _str(obj.get("file_id")):
            continue
        if kind == "document" and isinstance(message.get("animation"), Mapping):
            continue  # Telegram repeats an animation as a document
        content_type = _str(obj.get("mime_type")) or _DEFAULT_TYPES[kind]
        filename = _str(obj.get("file_name")) or (
            f"{kind}_{message_id}{mimetypes.guess_extension(content_type) or ''}"
        )
        refs.append(
            FileRef(
                kind=kind,
                file_id=str(obj["file_id"]),
                filename=filename,
                content_type=content_type,
                size=_size(obj.get("file_size")),
            )
        )
    return tuple(refs)


def _photo_size(size: Mapping[str, Any]) -> tuple[int, int]:
    area = int(size.get("width") or 0) * int(size.get("height") or 0)
    return (area, int(size.get("file_size") or 0))


def _location(message: Mapping[str, Any]) -> Location | None:
    venue = message.get("venue")
    label = None
    point = message.get("location")
    if isinstance(venue, Mapping):
        point = venue.get("location", point)
        parts = [_str(venue.get("title")), _str(venue.get("address"))]
        label = ", ".join(p for p in parts if p) or None
    if not isinstance(point, Mapping):
        return None
    lat, lon = point.get("latitude"), point.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        raise MalformedUpdate("location without numeric latitude/longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise MalformedUpdate(f"location out of range: {lat}, {lon}")
    return Location(latitude=float(lat), longitude=float(lon), label=label)


def _hint_kind(message: Mapping[str, Any]) -> str:
    for kind in HINT_KINDS:
        if kind in message:
            return kind
    return "unsupported"


def _time(value: object) -> datetime:
    if not _is_int(value):
        return datetime.now(UTC)
    try:
        return datetime.fromtimestamp(int(value), UTC)  # type: ignore[call-overload]
    except (OverflowError, OSError, ValueError):
        # a date no clock can show: the update is still the citizen's
        return datetime.now(UTC)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _size(value: object) -> int | None:
    return int(value) if _is_int(value) else None  # type: ignore[call-overload]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
