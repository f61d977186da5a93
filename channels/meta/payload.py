"""Meta's Page and Instagram webhook JSON → ``InboundMessage``.

Shapes from Meta's references: Page events (``object: page``) carry
``entry[].changes[]`` with ``field: feed`` (``value.item`` comment or a
visitor's post, ``verb`` add, edited, remove, hide, unhide) and
``entry[].messaging[]`` for Messenger; Instagram events (``object:
instagram``) carry ``changes[]`` with ``field`` comments or mentions and
``messaging[]`` for direct messages. ``entry[].id`` is the Page or the
Instagram professional account the event is for.

Ids: a comment is ``fb:comment:<id>`` / ``ig:comment:<id>``, a direct
message ``dm:<mid>``. A comment's ``message_id`` names its author
(``meta:<author>:<comment id>``) and its ``in_reply_to`` names the parent
with the same author and with our own account: so a reply threads into a
case only when it answers the same person's comment or our reply, as the X
rules have it, and a reply to someone else's comment is a post of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from channels.meta_json import (
    MalformedPayload,
    epoch_time,
    iso_time,
    load_envelope,
    read_command,
    text_of,
)
from contracts.records import InboundMessage, Reporter

OBJECTS = frozenset({"page", "instagram"})
# what a comment's author wrote on: a visitor's post counts as a comment
_POST_ITEMS = frozenset({"status", "post", "photo", "video"})
# feed changes that are not words to anyone (reactions, likes, shares…)
_FEED_READ = frozenset({"comment", *_POST_ITEMS})


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file a direct message links to (Meta's CDN URL, valid for a while)."""

    url: str
    kind: str  # image, video, audio, file
    filename: str


@dataclass(frozen=True, slots=True)
class Converted:
    """An item and the files it still needs."""

    item: InboundMessage
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True, slots=True)
class MentionRef:
    """An Instagram @mention: only ids come, the text is looked up."""

    account_id: str
    media_id: str
    comment_id: str | None
    received_at: datetime
    raw: bytes


@dataclass(slots=True)
class Parsed:
    """What a body holds for one channel."""

    items: list[Converted] = field(default_factory=list)
    mentions: list[MentionRef] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    skipped: int = 0


def load(body: bytes) -> Mapping[str, Any]:
    """The body as JSON, checked to be a Page or Instagram event."""
    return load_envelope(body, OBJECTS)


def account_ids(data: Mapping[str, Any]) -> set[str]:
    """Every Page or Instagram account the body speaks for."""
    return {i for e in _entries(data) if (i := _id(e.get("id")))}


def _entries(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for entry in data.get("entry") or ():
        if isinstance(entry, Mapping):
            yield entry


def parse(data: Mapping[str, Any], channel: str, own: set[str]) -> Parsed:
    """The events of the accounts in ``own``; one bad event is listed in
    ``problems`` and the others go on."""
    parsed = Parsed()
    platform = "ig" if data.get("object") == "instagram" else "fb"
    for entry in _entries(data):
        account = _id(entry.get("id"))
        if account not in own:
            continue
        for change in entry.get("changes") or ():
            _change(change, platform, account, own, channel, parsed)
        for event in entry.get("messaging") or ():
            _guarded(
                parsed, event, _messaging, event, platform, account, channel, parsed
            )
    return parsed


def foreign_accounts(data: Mapping[str, Any], own: set[str]) -> set[str]:
    """The accounts the body names that are not in ``own``."""
    return account_ids(data) - own


def _guarded(
    parsed: Parsed, event: object, convert: Callable[..., None], *args: Any
) -> None:
    try:
        convert(*args)
    except MalformedPayload as exc:
        parsed.problems.append((_event_id(event), str(exc)))
    except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as exc:
        # a field of an unexpected type, or nested too deeply to copy: this
        # event is quarantined, the rest goes on
        why = f"malformed event: {type(exc).__name__}: {exc}"
        parsed.problems.append((_event_id(event), why))


def _event_id(event: object) -> str:
    if not isinstance(event, Mapping):
        return "unknown"
    value = event.get("value")
    if isinstance(value, Mapping):
        return str(value.get("comment_id") or value.get("id") or "unknown")
    message = event.get("message")
    if isinstance(message, Mapping):
        return str(message.get("mid") or "unknown")
    return "unknown"


def _change(
    change: object,
    platform: str,
    account: str,
    own: set[str],
    channel: str,
    parsed: Parsed,
) -> None:
    if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
        parsed.problems.append(("change", "change without a value object"))
        return
    name = change.get("field")
    value: Mapping[str, Any] = change["value"]
    if platform == "fb" and name == "feed":
        _guarded(parsed, change, _feed, value, account, own, channel, parsed)
    elif platform == "ig" and name in ("comments", "live_comments"):
        _guarded(parsed, change, _ig_comment, value, account, channel, parsed)
    elif platform == "ig" and name == "mentions":
        _guarded(parsed, change, _mention, value, account, parsed)
    else:
        parsed.problems.append(
            (str(name), f"webhook field {name!r} is not read by this channel")
        )


def _raw(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


def comment_item(
    *,
    channel: str,
    platform: str,
    account: str,
    comment_id: str,
    author_id: str | None,
    author_name: str | None,
    username: str | None,
    text: str | None,
    parent_id: str | None,
    post_id: str | None,
    created: datetime,
    raw: bytes,
    source: str,
) -> InboundMessage:
    """A comment (from a webhook or the catch-up poll) as a post for triage."""
    author = author_id or username or "unknown"
    in_reply_to: tuple[str, ...] = ()
    if parent_id and parent_id != post_id:
        in_reply_to = (f"meta:{author}:{parent_id}", f"meta:{account}:{parent_id}")
    metadata: dict[str, Any] = {
        "source": source,
        "platform": platform,
        "comment_ref": f"{platform}:{comment_id}",
        "author_id": author_id,
        "post_id": post_id,
        "parent_id": parent_id,
    }
    return InboundMessage(
        channel=channel,
        external_id=f"{platform}:comment:{comment_id}",
        received_at=created,
        raw=raw,
        raw_format="json",
        text=text,
        reporter=Reporter(name=author_name, handle=username),
        in_reply_to=in_reply_to,
        message_id=f"meta:{author}:{comment_id}",
        metadata=metadata,
    )


def mention_item(
    channel: str, ref: MentionRef, found: Mapping[str, Any]
) -> InboundMessage:
    """An @mention of the Instagram account as a post for triage: ``found``
    is the comment or caption the Graph API gave for it. The raw bytes keep
    both the webhook's ids and that answer."""
    object_id = ref.comment_id or ref.media_id
    text = found.get("text") if ref.comment_id else found.get("caption")
    raw = {"webhook": json.loads(ref.raw), "graph": dict(found)}
    item = comment_item(
        channel=channel,
        platform="ig",
        account=ref.account_id,
        comment_id=object_id,
        author_id=None,
        author_name=None,
        username=_str(found.get("username")),
        text=_str(text),
        parent_id=None,
        post_id=ref.media_id,
        created=iso_time(found.get("timestamp")) or ref.received_at,
        raw=_raw(raw),
        source="mention",
    )
    metadata = {
        **item.metadata,
        "comment_ref": f"ig-mention:{ref.media_id}/{ref.comment_id or ''}",
    }
    return replace(item, external_id=f"ig:mention:{object_id}", metadata=metadata)


def _feed(
    value: Mapping[str, Any],
    account: str,
    own: set[str],
    channel: str,
    parsed: Parsed,
) -> None:
    item_kind = value.get("item")
    if item_kind not in _FEED_READ:
        parsed.skipped += 1  # a reaction, a like, a share: no words
        return
    object_id = _id(value.get("comment_id") if item_kind == "comment" else None) or _id(
        value.get("post_id")
    )
    if not object_id:
        raise MalformedPayload(f"feed {item_kind} without comment_id or post_id")
    sender = value.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    author_id = _id(sender.get("id"))
    if author_id in own:
        parsed.skipped += 1  # our own reply coming back
        return
    verb = value.get("verb")
    created = epoch_time(value.get("created_time"))
    raw = _raw(value)
    base = f"fb:comment:{object_id}"
    if verb == "add":
        item = comment_item(
            channel=channel,
            platform="fb",
            account=account,
            comment_id=object_id,
            author_id=author_id,
            author_name=_str(sender.get("name")),
            username=None,
            text=_str(value.get("message")),
            parent_id=_id(value.get("parent_id")),
            post_id=_id(value.get("post_id")),
            created=created,
            raw=raw,
            source="webhook",
        )
        if item_kind != "comment":
            # a visitor's post: answered privately through its post id
            metadata = {**item.metadata, "comment_ref": f"fb-post:{object_id}"}
            item = replace(item, metadata=metadata)
        parsed.items.append(Converted(item))
    elif verb in ("edited", "remove", "hide", "unhide"):
        parsed.items.append(
            Converted(_change_of(channel, base, str(verb), value, sender, created, raw))
        )
    else:
        parsed.skipped += 1


def _change_of(
    channel: str,
    base: str,
    verb: str,
    value: Mapping[str, Any],
    sender: Mapping[str, Any],
    created: datetime,
    raw: bytes,
) -> InboundMessage:
    """An edit, removal or hiding of a stored comment: kept as its own
    record pointing at the comment (``edit_of``), never dropped. Removals
    carry no text: the comment's words stay in the case."""
    stamp = int(created.timestamp())
    metadata: dict[str, Any] = {"edit_of": base}
    text = _str(value.get("message")) if verb == "edited" else None
    if verb != "edited":
        metadata["removed_at_source"] = {"remove": "deleted"}.get(verb, verb)
    return InboundMessage(
        channel=channel,
        external_id=f"{verb}:{base}:{stamp}",
        received_at=created,
        raw=raw,
        raw_format="json",
        text=text,
        reporter=Reporter(name=_str(sender.get("name"))),
        metadata=metadata,
    )


def _ig_comment(
    value: Mapping[str, Any], account: str, channel: str, parsed: Parsed
) -> None:
    comment_id = _id(value.get("id"))
    if not comment_id:
        raise MalformedPayload("Instagram comment without id")
    sender = value.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    author_id = _id(sender.get("id"))
    if author_id == account:
        parsed.skipped += 1  # our own reply coming back
        return
    media = value.get("media")
    media = media if isinstance(media, Mapping) else {}
    parsed.items.append(
        Converted(
            comment_item(
                channel=channel,
                platform="ig",
                account=account,
                comment_id=comment_id,
                author_id=author_id,
                author_name=None,
                username=_str(sender.get("username")),
                text=_str(value.get("text")),
                parent_id=_id(value.get("parent_id")),
                post_id=_id(media.get("id")),
                created=datetime.now(UTC),  # the webhook carries no time
                raw=_raw(value),
                source="webhook",
            )
        )
    )


def _mention(value: Mapping[str, Any], account: str, parsed: Parsed) -> None:
    media_id = _id(value.get("media_id"))
    if not media_id:
        raise MalformedPayload("mention without media_id")
    parsed.mentions.append(
        MentionRef(
            account_id=account,
            media_id=media_id,
            comment_id=_id(value.get("comment_id")),
            received_at=datetime.now(UTC),
            raw=_raw(value),
        )
    )


def _messaging(
    event: object, platform: str, account: str, channel: str, parsed: Parsed
) -> None:
    if not isinstance(event, Mapping):
        raise MalformedPayload("messaging event is not an object")
    sender = _id((event.get("sender") or {}).get("id"))
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
    raw = _raw(event)
    if isinstance(edit, Mapping):
        mid = _str(edit.get("mid"))
        if not mid:
            raise MalformedPayload("message_edit without mid")
        count = edit.get("num_edit")
        parsed.items.append(
            Converted(
                InboundMessage(
                    channel=channel,
                    external_id=f"edit:dm:{mid}:{count if _is_int(count) else 0}",
                    received_at=received,
                    raw=raw,
                    raw_format="json",
                    text=_str(edit.get("text")),
                    reporter=Reporter(chat_id=chat_id),
                    metadata={"edit_of": f"dm:{mid}", "platform": platform},
                )
            )
        )
        return
    assert isinstance(message, Mapping)
    mid = _str(message.get("mid"))
    if not mid:
        raise MalformedPayload("message without mid")
    metadata: dict[str, Any] = {"platform": platform}
    if message.get("is_deleted"):
        metadata.update(edit_of=f"dm:{mid}", removed_at_source="deleted")
        parsed.items.append(
            Converted(
                InboundMessage(
                    channel=channel,
                    external_id=f"deleted:dm:{mid}",
                    received_at=received,
                    raw=raw,
                    raw_format="json",
                    reporter=Reporter(chat_id=chat_id),
                    metadata=metadata,
                )
            )
        )
        return
    text = _str(message.get("text"))
    quick = message.get("quick_reply")
    if isinstance(quick, Mapping) and _str(quick.get("payload")):
        text = _str(quick.get("payload"))  # a choice button: our command
    if text:
        read_command(text, metadata)
    media = tuple(_attachments(message.get("attachments"), mid))
    reply_to = message.get("reply_to")
    in_reply_to: tuple[str, ...] = ()
    if isinstance(reply_to, Mapping) and (quoted := _str(reply_to.get("mid"))):
        in_reply_to = (f"meta:dm:{quoted}",)
    if not text and not media:
        metadata["hint"] = "unsupported"  # a sticker, a story reply…
    parsed.items.append(
        Converted(
            dm_item(
                channel=channel,
                platform=platform,
                mid=mid,
                sender=sender,
                text=text,
                received=received,
                raw=raw,
                in_reply_to=in_reply_to,
                metadata=metadata,
            ),
            media,
        )
    )


def dm_item(
    *,
    channel: str,
    platform: str,
    mid: str,
    sender: str,
    text: str | None,
    received: datetime,
    raw: bytes,
    in_reply_to: tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> InboundMessage:
    """A direct message (from a webhook or the catch-up) as a chat item;
    the chat is ``fb:<PSID>`` or ``ig:<IGSID>``."""
    return InboundMessage(
        channel=channel,
        external_id=f"dm:{mid}",
        received_at=received,
        raw=raw,
        raw_format="json",
        text=text,
        reporter=Reporter(chat_id=f"{platform}:{sender}"),
        in_reply_to=in_reply_to,
        message_id=f"meta:dm:{mid}",
        metadata=metadata or {"platform": platform},
    )


def _attachments(raw: object, mid: str) -> Iterator[MediaRef]:
    for index, attachment in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(attachment, Mapping):
            continue
        kind = _str(attachment.get("type")) or "file"
        payload = attachment.get("payload")
        url = _str(payload.get("url")) if isinstance(payload, Mapping) else None
        if url and kind in ("image", "video", "audio", "file"):
            yield MediaRef(url=url, kind=kind, filename=f"{kind}-{mid[-12:]}-{index}")


def _id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


_str = text_of


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
