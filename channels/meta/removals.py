"""Instagram comments deleted or hidden at their source, noticed by the
catch-up: Instagram sends no webhook for either (Facebook's ``feed``
``remove``/``hide`` verbs are read in ``channels.meta.payload``).

The catch-up remembers, in its cursor, the comments it handed over on each
media it reads (those younger than ``WATCH_SECONDS``), with whether they
were hidden. On the next read of that media:

- a remembered comment that is hidden now, or shown again, is a ``hide`` or
  ``unhide`` record pointing at it;
- a remembered comment that is no longer listed is a ``remove`` record, but
  only when every page of the media's comments (and of their replies) was
  read, and only while the comment is younger than the window, so that a
  paging bound or a comment ageing out of the window is never taken for a
  deletion.

The records are the ``edit_of``/``removed_at_source`` ones the Facebook
path makes: the case is marked, nothing is deleted. Their ids follow from
the remembered state (``hide:ig:comment:<id>:<n>`` for the n-th change of
visibility, ``remove:ig:comment:<id>``), so a batch read again after a crash
names the same records and each change is marked exactly once. A comment
handed over before this was remembered, or recorded from a webhook and gone
before the next catch-up read its media, is not noticed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.meta.items import change_item
from channels.meta_json import iso_time, text_of
from contracts.records import InboundMessage

# how long after its creation a comment's deletion or hiding is noticed
WATCH_SECONDS = 7 * 24 * 3600
# the most comments remembered (the newest are kept): bounds the cursor
MAX_WATCHED = 2000

# per media id: comment id -> [created (epoch s), hidden (0/1), changes of
# visibility so far]
Watch = dict[str, dict[str, list[int]]]


@dataclass(frozen=True, slots=True)
class MediaRead:
    """What one catch-up read found on a media: its comments' (id, created,
    hidden), and whether every page was read."""

    media_id: str
    seen: dict[str, tuple[int, bool]]
    complete: bool


@dataclass(frozen=True, slots=True)
class Change:
    """A noticed deletion or change of visibility, and the remembered entry
    after it (None: forget the comment)."""

    media_id: str
    comment_id: str
    item: InboundMessage
    entry: list[int] | None


def load_watch(value: object) -> Watch:
    """The remembered comments of a stored cursor (``{}`` for none)."""
    if not isinstance(value, dict):
        return {}
    watch: Watch = {}
    for media_id, comments in value.items():
        if isinstance(comments, dict):
            watch[str(media_id)] = {
                str(c): [int(x) for x in entry][:3]
                for c, entry in comments.items()
                if isinstance(entry, list) and len(entry) == 3
            }
    return watch


def seen_on(media_id: str, comments: list[dict[str, Any]], complete: bool) -> MediaRead:
    """A ``MediaRead`` of the Graph API comments of a media."""
    seen: dict[str, tuple[int, bool]] = {}
    for comment in comments:
        comment_id = text_of(comment.get("id"))
        created = iso_time(comment.get("timestamp"))
        if comment_id and created is not None:
            seen[comment_id] = (int(created.timestamp()), comment.get("hidden") is True)
    return MediaRead(media_id, seen, complete)


def changes(
    channel: str, account: str, watch: Watch, reads: list[MediaRead], now: float
) -> list[Change]:
    """What changed on the media read since they were last remembered."""
    cutoff = now - WATCH_SECONDS
    found: list[Change] = []
    for read in reads:
        for comment_id, entry in sorted(watch.get(read.media_id, {}).items()):
            created, hidden, flips = entry
            if created < cutoff:
                continue  # out of the window: not watched any more
            if comment_id not in read.seen:
                if read.complete:
                    item = _item(channel, account, read.media_id, comment_id, "remove")
                    found.append(Change(read.media_id, comment_id, item, None))
                continue
            hidden_now = read.seen[comment_id][1]
            if hidden_now != bool(hidden):
                verb = "hide" if hidden_now else "unhide"
                item = _item(
                    channel, account, read.media_id, comment_id, verb, flips + 1
                )
                entry_after = [created, int(hidden_now), flips + 1]
                found.append(Change(read.media_id, comment_id, item, entry_after))
    return found


def first_hidden(
    channel: str, account: str, media_id: str, comment_id: str
) -> InboundMessage:
    """The ``hide`` record of a comment handed over already hidden."""
    return _item(channel, account, media_id, comment_id, "hide", 1)


def kept(watch: Watch, reads: list[MediaRead], now: float) -> Watch:
    """The remembered comments of the media read now, within the window."""
    cutoff = now - WATCH_SECONDS
    return {
        read.media_id: {
            c: list(entry)
            for c, entry in watch.get(read.media_id, {}).items()
            if entry[0] >= cutoff
        }
        for read in reads
    }


def bounded(watch: Watch) -> Watch:
    """``watch`` with at most ``MAX_WATCHED`` comments, the newest."""
    entries = [(e[0], m, c) for m, cs in watch.items() for c, e in cs.items()]
    if len(entries) <= MAX_WATCHED:
        return {m: cs for m, cs in watch.items() if cs}
    keep = {(m, c) for _t, m, c in sorted(entries, reverse=True)[:MAX_WATCHED]}
    trimmed: Watch = {}
    for media_id, comments in watch.items():
        left = {c: e for c, e in comments.items() if (media_id, c) in keep}
        if left:
            trimmed[media_id] = left
    return trimmed


def _item(
    channel: str,
    account: str,
    media_id: str,
    comment_id: str,
    verb: str,
    flips: int | None = None,
    noticed: float | None = None,
) -> InboundMessage:
    base = f"ig:comment:{comment_id}"
    external_id = f"{verb}:{base}" if flips is None else f"{verb}:{base}:{flips}"
    at = datetime.now(UTC) if noticed is None else datetime.fromtimestamp(noticed, UTC)
    data: dict[str, Any] = {
        "id": comment_id,
        "verb": verb,
        "flips": flips,
        "noticed": int(at.timestamp()),
    }
    envelope = {
        "source": "graph",
        "platform": "ig",
        "account": account,
        "post_id": media_id,
        "kind": "change",
        "data": data,
    }
    raw = json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()
    return change_item(
        channel=channel,
        of=base,
        verb=verb,
        external_id=external_id,
        at=datetime.fromtimestamp(int(at.timestamp()), UTC),
        raw=raw,
    )


def rebuild(channel: str, envelope: dict[str, Any]) -> InboundMessage | None:
    """The record of a stored change (a replay), or None."""
    data = envelope.get("data")
    if not isinstance(data, dict):
        return None
    comment_id, verb = text_of(data.get("id")), data.get("verb")
    if not comment_id or verb not in ("remove", "hide", "unhide"):
        return None
    flips = data.get("flips")
    noticed = data.get("noticed")
    return _item(
        channel,
        str(envelope.get("account") or ""),
        str(envelope.get("post_id") or ""),
        comment_id,
        str(verb),
        flips if isinstance(flips, int) else None,
        float(noticed) if isinstance(noticed, int | float) else None,
    )
