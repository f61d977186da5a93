"""Meta's Page and Instagram webhook JSON → ``InboundMessage``.

Shapes from Meta's references: Page events (``object: page``) carry
``entry[].changes[]`` with ``field: feed`` (``value.item`` comment or a
visitor's post, ``verb`` add, edited, remove, hide, unhide) and
``entry[].messaging[]`` for Messenger; Instagram events (``object:
instagram``) carry ``changes[]`` with ``field`` comments or mentions and
``messaging[]`` for direct messages. ``entry[].id`` is the Page or the
Instagram professional account the event is for.

Ids: a comment is ``fb:comment:<id>`` / ``ig:comment:<id>``, a direct
message ``dm:<mid>`` (the records: ``channels.meta.items``; messaging
events: ``channels.meta.messaging``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from channels.meta.items import (
    Converted,
    MediaRef,
    MentionRef,
    Parsed,
    change_item,
    comment_item,
    dm_item,
    id_of,
    mention_item,
    raw_json,
)
from channels.meta.messaging import messaging_event
from channels.meta_json import (
    SHAPE_ERRORS,
    MalformedPayload,
    epoch_time,
    listed,
    load_envelope,
    text_of,
)
from contracts.records import InboundMessage

__all__ = [
    "OBJECTS",
    "WEBHOOK_SENT",
    "Converted",
    "MalformedPayload",
    "MediaRef",
    "MentionRef",
    "Parsed",
    "account_ids",
    "comment_item",
    "dm_item",
    "load",
    "mention_item",
    "parse",
]

OBJECTS = frozenset({"page", "instagram"})
# ``metadata["time_of"]`` of an item whose time is when Meta sent the
# webhook, the event having none of its own
WEBHOOK_SENT = "webhook_sent"
# what a comment's author wrote on: a visitor's post counts as a comment
_POST_ITEMS = frozenset({"status", "post", "photo", "video"})
# feed changes that are not words to anyone (reactions, likes, shares…)
_FEED_READ = frozenset({"comment", *_POST_ITEMS})


def load(body: bytes) -> Mapping[str, Any]:
    """The body as JSON, checked to be a Page or Instagram event."""
    return load_envelope(body, OBJECTS)


def account_ids(data: Mapping[str, Any]) -> set[str]:
    """Every Page or Instagram account the body speaks for."""
    return {i for e in _entries(data) if (i := id_of(e.get("id")))}


def _entries(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for entry in listed(data.get("entry")):
        if isinstance(entry, Mapping):
            yield entry


def parse(data: Mapping[str, Any], channel: str, own: set[str]) -> Parsed:
    """The events of the accounts in ``own``; one bad event is listed in
    ``problems`` and the others go on."""
    parsed = Parsed()
    platform = "ig" if data.get("object") == "instagram" else "fb"
    for entry in _entries(data):
        account = id_of(entry.get("id"))
        if account not in own:
            continue
        sent_at = _sent_at(entry)
        for key in ("changes", "messaging"):
            if not isinstance(entry.get(key, []), list):
                parsed.problems.append((str(account), f"{key} is not a list"))
        for change in listed(entry.get("changes")):
            _change(change, platform, account, own, channel, parsed, sent_at)
        for event in listed(entry.get("messaging")):
            _guarded(
                parsed,
                event,
                messaging_event,
                event,
                platform,
                account,
                channel,
                parsed,
            )
    return parsed


def _sent_at(entry: Mapping[str, Any]) -> datetime:
    """When Meta sent the entry (``entry.time``, epoch seconds): the best
    time an event without its own has (an Instagram comment or mention);
    the receipt time when it is missing."""
    return epoch_time(entry.get("time"))


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
    except SHAPE_ERRORS as exc:
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
    sent_at: datetime,
) -> None:
    if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
        parsed.problems.append(("change", "change without a value object"))
        return
    name = change.get("field")
    value: Mapping[str, Any] = change["value"]
    if platform == "fb" and name == "feed":
        _guarded(parsed, change, _feed, value, account, own, channel, parsed)
    elif platform == "ig" and name in ("comments", "live_comments"):
        sent = (str(name), sent_at)
        _guarded(parsed, change, _ig_comment, value, account, channel, parsed, sent)
    elif platform == "ig" and name == "mentions":
        _guarded(parsed, change, _mention, value, account, parsed, sent_at)
    else:
        parsed.problems.append(
            (str(name), f"webhook field {name!r} is not read by this channel")
        )


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
    object_id = id_of(
        value.get("comment_id") if item_kind == "comment" else None
    ) or id_of(value.get("post_id"))
    if not object_id:
        raise MalformedPayload(f"feed {item_kind} without comment_id or post_id")
    sender = value.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    author_id = id_of(sender.get("id"))
    if author_id in own:
        parsed.skipped += 1  # our own reply coming back
        return
    verb = value.get("verb")
    created = epoch_time(value.get("created_time"))
    raw = raw_json(value)
    base = f"fb:comment:{object_id}"
    if verb == "add":
        item = comment_item(
            channel=channel,
            platform="fb",
            account=account,
            comment_id=object_id,
            author_id=author_id,
            author_name=text_of(sender.get("name")),
            username=None,
            text=text_of(value.get("message")),
            parent_id=id_of(value.get("parent_id")),
            post_id=id_of(value.get("post_id")),
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
    """A Page comment's edit, removal or hiding (``channels.meta.items.
    change_item``)."""
    return change_item(
        channel=channel,
        of=base,
        verb=verb,
        external_id=f"{verb}:{base}:{int(created.timestamp())}",
        at=created,
        raw=raw,
        text=text_of(value.get("message")),
        author_name=text_of(sender.get("name")),
    )


def _ig_comment(
    value: Mapping[str, Any],
    account: str,
    channel: str,
    parsed: Parsed,
    sent: tuple[str, datetime],
) -> None:
    """An Instagram ``comments`` (or ``live_comments``) value; ``sent``:
    that field's name and when Meta sent the entry."""
    name, sent_at = sent
    comment_id = id_of(value.get("id"))
    if not comment_id:
        raise MalformedPayload("Instagram comment without id")
    sender = value.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    author_id = id_of(sender.get("id"))
    if author_id == account:
        parsed.skipped += 1  # our own reply coming back
        return
    media = value.get("media")
    media = media if isinstance(media, Mapping) else {}
    item = comment_item(
        channel=channel,
        platform="ig",
        account=account,
        comment_id=comment_id,
        author_id=author_id,
        author_name=None,
        username=text_of(sender.get("username")),
        text=text_of(value.get("text")),
        parent_id=id_of(value.get("parent_id")),
        post_id=id_of(media.get("id")),
        # the value carries no time: when Meta sent it (the
        # catch-up's Graph API timestamp wins in a batch with both)
        created=sent_at,
        # stored in its envelope, so that a replay has that time too
        raw=raw_json(_one_change(name, account, sent_at, value)),
        source="webhook",
    )
    metadata = {**item.metadata, "time_of": WEBHOOK_SENT}
    parsed.items.append(Converted(replace(item, metadata=metadata)))


def _one_change(
    name: str, account: str, sent_at: datetime, value: Mapping[str, Any]
) -> dict[str, Any]:
    """A body of Meta's with the one ``changes`` event ``value``."""
    entry = {
        "id": account,
        "time": int(sent_at.timestamp()),
        "changes": [{"field": name, "value": value}],
    }
    return {"object": "instagram", "entry": [entry]}


def _mention(
    value: Mapping[str, Any], account: str, parsed: Parsed, sent_at: datetime
) -> None:
    media_id = id_of(value.get("media_id"))
    if not media_id:
        raise MalformedPayload("mention without media_id")
    parsed.mentions.append(
        MentionRef(
            account_id=account,
            media_id=media_id,
            comment_id=id_of(value.get("comment_id")),
            received_at=sent_at,
            raw=raw_json(value),
        )
    )
