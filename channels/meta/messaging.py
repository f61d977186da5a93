"""Messenger and Instagram ``messaging`` events → chat items: a message
(text, a quick reply's payload, files to download, the message it answers),
an edit (``message_edit``) or a deletion (``is_deleted``), kept pointing at
the message they change; echoes of what we sent and delivery/read events
are skipped."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from channels.meta.items import (
    Converted,
    MediaRef,
    Parsed,
    dm_item,
    id_of,
    is_int,
    raw_json,
)
from channels.meta_json import MalformedPayload, epoch_time, read_command, text_of
from contracts.records import InboundMessage, Reporter


def messaging_event(
    event: object, platform: str, account: str, channel: str, parsed: Parsed
) -> None:
    if not isinstance(event, Mapping):
        raise MalformedPayload("messaging event is not an object")
    sender = id_of((event.get("sender") or {}).get("id"))
    message = event.get("message")
    edit = event.get("message_edit")
    if isinstance(message, Mapping) and message.get("is_echo"):
        parsed.skipped += 1  # what we sent, echoed back
        return
    if not isinstance(message, Mapping) and not isinstance(edit, Mapping):
        parsed.skipped += 1  # delivery, read, reaction, postback-less events
        return
    if not sender or sender == account:
        parsed.skipped += 1
        return
    chat_id = f"{platform}:{sender}"
    received = epoch_time(event.get("timestamp"), 1000)
    raw = raw_json(event)
    if isinstance(edit, Mapping):
        mid = text_of(edit.get("mid"))
        if not mid:
            raise MalformedPayload("message_edit without mid")
        count = edit.get("num_edit")
        parsed.items.append(
            Converted(
                InboundMessage(
                    channel=channel,
                    external_id=f"edit:dm:{mid}:{count if is_int(count) else 0}",
                    received_at=received,
                    raw=raw,
                    raw_format="json",
                    text=text_of(edit.get("text")),
                    reporter=Reporter(chat_id=chat_id),
                    edit_of=f"dm:{mid}",
                    metadata={"platform": platform},
                )
            )
        )
        return
    assert isinstance(message, Mapping)
    mid = text_of(message.get("mid"))
    if not mid:
        raise MalformedPayload("message without mid")
    metadata: dict[str, Any] = {"platform": platform}
    if message.get("is_deleted"):
        # the message is deleted at the source: its words stay in the case
        parsed.items.append(
            Converted(
                InboundMessage(
                    channel=channel,
                    external_id=f"deleted:dm:{mid}",
                    received_at=received,
                    raw=raw,
                    raw_format="json",
                    reporter=Reporter(chat_id=chat_id),
                    edit_of=f"dm:{mid}",
                    removed_at_source="deleted",
                    metadata=metadata,
                )
            )
        )
        return
    text = text_of(message.get("text"))
    quick = message.get("quick_reply")
    if isinstance(quick, Mapping) and text_of(quick.get("payload")):
        text = text_of(quick.get("payload"))  # a choice button: our command
    command, command_args = read_command(text) if text else (None, "")
    media = tuple(_attachments(message.get("attachments"), mid))
    reply_to = message.get("reply_to")
    in_reply_to: tuple[str, ...] = ()
    if isinstance(reply_to, Mapping) and (quoted := text_of(reply_to.get("mid"))):
        in_reply_to = (f"meta:dm:{quoted}",)
    # a sticker, a story reply…
    hint = "unsupported" if not text and not media else None
    item = dm_item(
        channel=channel,
        platform=platform,
        mid=mid,
        sender=sender,
        text=text,
        received=received,
        raw=raw,
        in_reply_to=in_reply_to,
        metadata=metadata,
    )
    parsed.items.append(
        Converted(
            replace(item, command=command, command_args=command_args, hint=hint),
            media,
        )
    )


def _attachments(raw: object, mid: str) -> Iterator[MediaRef]:
    for index, attachment in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(attachment, Mapping):
            continue
        kind = text_of(attachment.get("type")) or "file"
        payload = attachment.get("payload")
        url = text_of(payload.get("url")) if isinstance(payload, Mapping) else None
        if url and kind in ("image", "video", "audio", "file"):
            yield MediaRef(url=url, kind=kind, filename=f"{kind}-{mid[-12:]}-{index}")
