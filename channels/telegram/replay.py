"""A Telegram item rebuilt from the update JSON it was handed over with (the
replay of ``dengar quarantine retry``)."""

from __future__ import annotations

import json

from channels.telegram.updates import Converted, MalformedUpdate, convert_update
from contracts.channel import FetchResult
from contracts.errors import NotReplayable


def replay_update(channel: str, raw: bytes, private_chats_only: bool) -> FetchResult:
    """The item of one stored update. Files are left out (counted in
    ``skipped``): the running channel downloads them; the text, location and
    reporter are kept."""
    try:
        update = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NotReplayable(f"stored bytes are not JSON: {exc}") from None
    try:
        converted = convert_update(
            update,
            channel=channel,
            private_chats_only=private_chats_only,
        )
    except MalformedUpdate as exc:
        raise NotReplayable(f"still unreadable: {exc}") from None
    if not isinstance(converted, Converted):
        raise NotReplayable(f"the channel skips this update: {converted.reason}")
    return FetchResult(
        items=[converted.item], cursor=None, skipped=len(converted.files)
    )
