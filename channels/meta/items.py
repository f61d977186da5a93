"""The records the Meta channel makes of Page and Instagram events: a
comment or an @mention as a post for triage, a direct message as a chat
item, and what a parsed body holds (``channels.meta.payload``).

A comment's ``message_id`` names its author (``meta:<author>:<comment id>``)
and its ``in_reply_to`` names the parent with the same author and with our
own account: so a reply threads into a case only when it answers the same
person's comment or our reply, as the X rules have it, and a reply to
someone else's comment is a post of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from channels import meta_json
from channels.meta_json import iso_time, text_of
from contracts.records import InboundMessage, Reporter


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


def raw_json(value: object) -> bytes:
    """An event as stored: its JSON with sorted keys, so that a replay
    rebuilds the same bytes (``channels.meta_json.raw_json``)."""
    return meta_json.raw_json(value)


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


def change_item(
    *,
    channel: str,
    of: str,
    verb: str,
    external_id: str,
    at: datetime,
    raw: bytes,
    text: str | None = None,
    author_name: str | None = None,
) -> InboundMessage:
    """An edit (``edited``), removal (``remove``) or hiding (``hide``,
    ``unhide``) of the stored comment ``of`` (its external id): kept as its
    own record pointing at the comment (``edit_of``), never dropped.
    Removals carry no text: the comment's words stay in the case."""
    removed = None if verb == "edited" else {"remove": "deleted"}.get(verb, verb)
    return InboundMessage(
        channel=channel,
        external_id=external_id,
        received_at=at,
        raw=raw,
        raw_format="json",
        text=text if verb == "edited" else None,
        reporter=Reporter(name=author_name),
        edit_of=of,
        removed_at_source=removed,
    )


def mention_item(
    channel: str,
    ref: MentionRef,
    found: Mapping[str, Any],
    *,
    raw: bytes | None = None,
    source: str = "mention",
) -> InboundMessage:
    """An @mention of the Instagram account as a post for triage: ``found``
    is the comment or caption the Graph API gave for it. The raw bytes keep
    both the webhook's ids (with the time Meta sent them) and that answer,
    unless ``raw`` (the catch-up's) is given."""
    object_id = ref.comment_id or ref.media_id
    text = found.get("text") if ref.comment_id else found.get("caption")
    if raw is None:
        stored = {
            "webhook": json.loads(ref.raw),
            "graph": dict(found),
            "time": int(ref.received_at.timestamp()),
        }
        raw = raw_json(stored)
    item = comment_item(
        channel=channel,
        platform="ig",
        account=ref.account_id,
        comment_id=object_id,
        author_id=None,
        author_name=None,
        username=text_of(found.get("username")),
        text=text_of(text),
        parent_id=None,
        post_id=ref.media_id,
        created=iso_time(found.get("timestamp")) or ref.received_at,
        raw=raw,
        source=source,
    )
    metadata = {
        **item.metadata,
        "comment_ref": f"ig-mention:{ref.media_id}/{ref.comment_id or ''}",
    }
    return replace(item, external_id=f"ig:mention:{object_id}", metadata=metadata)


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


def id_of(value: object) -> str | None:
    """A Meta id (sent as a string, sometimes as a number), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def is_int(value: object) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)
