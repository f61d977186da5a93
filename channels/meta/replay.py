"""Rebuilding Page and Instagram items from their raw bytes, for
``dengar quarantine retry`` (``contracts.channel.ReplaysRaw``).

What the bytes can be: a whole webhook body the channel could not read; the
one event an item came from (a Page ``feed`` value, an Instagram
``comments`` value, a ``messaging`` event), which is put back in the
envelope Meta sends it in; an @mention (the webhook's ids with the Graph
API's answer); an item of the catch-up (``catch_up.graph_raw``). Files of
direct messages are left out: the running channel downloads them.
"""

from __future__ import annotations

import json
from typing import Any

from channels.meta import catch_up
from channels.meta.payload import (
    Converted,
    MentionRef,
    Parsed,
    load,
    mention_item,
    parse,
)
from channels.meta.webhook import own_accounts
from channels.meta_json import MalformedPayload, epoch_time
from config.channel_settings import MetaChannelSettings
from contracts.channel import FetchResult
from contracts.errors import NotReplayable
from contracts.records import InboundMessage


def replay(settings: MetaChannelSettings, raw: bytes, external_id: str) -> FetchResult:
    """The item(s) ``raw`` holds for this channel's accounts."""
    own = own_accounts(settings)
    try:
        parsed = parse(load(raw), settings.name, own)
    except MalformedPayload:
        parsed = _one_event(settings, raw, external_id)
    if not parsed.items:
        problems = "; ".join(f"{ref}: {why}" for ref, why in parsed.problems)
        raise NotReplayable(
            "still unreadable: " + (problems or "no event of this channel's accounts")
        )
    # a mention in a whole body needs the Graph API: the running channel
    left_out = sum(len(c.media) for c in parsed.items) + len(parsed.mentions)
    return FetchResult(
        items=[c.item for c in parsed.items], cursor=None, skipped=left_out
    )


def _one_event(settings: MetaChannelSettings, raw: bytes, external_id: str) -> Parsed:
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError):
        raise NotReplayable("stored bytes are not JSON") from None
    if not isinstance(event, dict):
        raise NotReplayable("stored bytes are not a Meta event")
    parsed = Parsed()
    if event.get("source") == "graph":
        item = catch_up.rebuild(settings.name, event)
        if item is not None:
            parsed.items.append(_converted(item))
        return parsed
    if external_id.startswith("ig:mention:"):
        item = _mention(settings, event)
        if item is not None:
            parsed.items.append(_converted(item))
        return parsed
    envelope = _envelope(settings, event, external_id)
    if envelope is None:
        raise NotReplayable(f"no Meta event of {external_id!r} in the stored bytes")
    return parse(envelope, settings.name, own_accounts(settings))


def _envelope(
    settings: MetaChannelSettings, event: dict[str, Any], external_id: str
) -> dict[str, Any] | None:
    """``event`` in the body Meta sends it in."""
    if "fb:comment:" in external_id and settings.page_id:
        change = {"field": "feed", "value": event}
        return _body("page", settings.page_id, changes=[change])
    if "ig:comment:" in external_id and settings.instagram_account_id:
        change = {"field": "comments", "value": event}
        return _body("instagram", settings.instagram_account_id, changes=[change])
    if "dm:" in external_id:
        recipient = str((event.get("recipient") or {}).get("id") or "")
        if recipient and recipient == settings.instagram_account_id:
            return _body("instagram", recipient, messaging=[event])
        if recipient and recipient == settings.page_id:
            return _body("page", recipient, messaging=[event])
    return None


def _body(obj: str, account: str, **parts: Any) -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": account, **parts}]}


def _mention(
    settings: MetaChannelSettings, stored: dict[str, Any]
) -> InboundMessage | None:
    webhook, found = stored.get("webhook"), stored.get("graph")
    account = settings.instagram_account_id
    if not isinstance(webhook, dict) or not isinstance(found, dict) or not account:
        return None
    media_id = webhook.get("media_id")
    if not isinstance(media_id, str):
        return None
    comment_id = webhook.get("comment_id")
    ref = MentionRef(
        account_id=account,
        media_id=media_id,
        comment_id=comment_id if isinstance(comment_id, str) else None,
        # the time Meta sent the webhook (older records: now)
        received_at=epoch_time(stored.get("time")),
        raw=json.dumps(webhook, ensure_ascii=False, sort_keys=True).encode(),
    )
    return mention_item(settings.name, ref, found)


def _converted(item: InboundMessage) -> Converted:
    return Converted(item)
