"""The catch-up read of the Graph API: comments on the newest posts and
media (Instagram replies too), the newest media the Instagram account is
tagged in (its @mentions), and the newest direct messages, for what the
webhooks missed (Meta drops deliveries after repeated failures).

A tagged media becomes the item a ``mentions`` webhook makes of a caption
@mention of that media (``ig:mention:<media id>``), so either way it is one
record. Comment @mentions on other accounts' media cannot be listed by the
Graph API (``mentioned_comment`` needs the id a webhook brings): only the
webhook finds them.

Cursor: JSON ``{"since": <epoch seconds>, "at_since": [external ids read
at that second], "polled_at": <epoch seconds>}``. An item is new when it is
younger than ``since``, or as old and not yet read. A read cut short by the
batch limit keeps the oldest items, advances ``since`` to the last of them
and leaves ``polled_at`` as it was, so the next fetch reads on at once.
What the webhooks already brought comes again with the same external id and
is recognised by the pipeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from channels.meta.graph import MetaGraph
from channels.meta.items import MentionRef, comment_item, dm_item, mention_item
from channels.meta_json import iso_time, text_of
from contracts.errors import FatalChannelError
from contracts.records import InboundMessage

# how far back the very first catch-up reads
FIRST_LOOKBACK = 2 * 24 * 3600
# the newest tagged media read each time (one page; older ones were read)
TAGGED_PAGE = 50


@dataclass(slots=True)
class CatchUpState:
    """The catch-up's part of the cursor."""

    since: float | None = None
    at_since: list[str] = field(default_factory=list)
    polled_at: float = 0.0

    @classmethod
    def load(cls, cursor: str | None) -> CatchUpState:
        """The state in a stored cursor (empty for none)."""
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(
                since=None if data.get("since") is None else float(data["since"]),
                at_since=[str(i) for i in data.get("at_since") or []],
                polled_at=float(data.get("polled_at") or 0.0),
            )
        except (ValueError, TypeError, AttributeError):
            raise FatalChannelError(
                "the stored Meta cursor is unreadable; reset the channel's cursor"
            ) from None

    def dump(self) -> str:
        """The cursor to store."""
        return json.dumps(
            {
                "since": self.since,
                "at_since": self.at_since,
                "polled_at": self.polled_at,
            },
            sort_keys=True,
        )

    def is_new(self, stamp: float, external_id: str) -> bool:
        """Whether an item of that time and id was not read before."""
        if self.since is None:
            return True
        return stamp > self.since or (
            stamp == self.since and external_id not in self.at_since
        )


@dataclass(frozen=True, slots=True)
class Accounts:
    """Whose comments and messages the catch-up reads."""

    channel: str
    page_id: str | None
    instagram_account_id: str | None
    posts: int


async def read(
    graph: MetaGraph, accounts: Accounts, state: CatchUpState, room: int
) -> tuple[list[InboundMessage], CatchUpState, bool]:
    """The new items, oldest first, at most ``room``; the state after them;
    whether more were left."""
    now = time.time()
    if state.since is None:
        state = CatchUpState(since=now - FIRST_LOOKBACK)
    found = [
        (stamp, item)
        for stamp, item in await _everything(graph, accounts)
        if state.is_new(stamp, item.external_id)
    ]
    found.sort(key=lambda pair: (pair[0], pair[1].external_id))
    taken = found[:room]
    cut = len(found) > len(taken)
    after = CatchUpState(
        since=state.since,
        at_since=list(state.at_since),
        polled_at=state.polled_at if cut else now,
    )
    for stamp, item in taken:
        if stamp != after.since:
            after.since, after.at_since = stamp, []
        after.at_since.append(item.external_id)
    return [item for _stamp, item in taken], after, cut


async def _everything(
    graph: MetaGraph, accounts: Accounts
) -> list[tuple[float, InboundMessage]]:
    found: list[tuple[float, InboundMessage]] = []
    sources: list[tuple[str, str]] = []
    if accounts.page_id:
        sources.append(("fb", accounts.page_id))
    if accounts.instagram_account_id:
        sources.append(("ig", accounts.instagram_account_id))
    for platform, account in sources:
        if platform == "fb":
            posts = await graph.recent_posts(account, accounts.posts)
        else:
            posts = await graph.recent_media(account, accounts.posts)
        for post in posts:
            post_id = text_of(post.get("id"))
            if not post_id:
                continue
            for comment in await graph.comments(platform, post_id):
                got = _comment(accounts.channel, platform, account, post_id, comment)
                if got is not None:
                    found.append(got)
        if platform == "ig":
            for media in await graph.tagged_media(account, TAGGED_PAGE):
                tagged = _tagged(accounts.channel, account, media)
                if tagged is not None:
                    found.append(tagged)
        # Instagram messages of a Page-linked account are read through the Page
        sender = accounts.page_id or account
        for message in await graph.conversation_messages(sender, platform):
            got = _message(accounts.channel, platform, {account, sender}, message)
            if got is not None:
                found.append(got)
    return found


def graph_raw(
    platform: str,
    account: str,
    post_id: str | None,
    data: dict[str, Any],
    kind: str | None = None,
) -> bytes:
    """The raw bytes of a caught-up item: what the Graph API sent (``data``)
    with what the request said about it, so that a replay rebuilds it
    (``kind``: ``tagged`` for a media of ``/tags``; else a comment when
    there is a ``post_id``, a message when not)."""
    envelope: dict[str, Any] = {
        "source": "graph",
        "platform": platform,
        "account": account,
        "post_id": post_id,
        "data": data,
    }
    if kind:
        envelope["kind"] = kind
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()


def rebuild(channel: str, envelope: dict[str, Any]) -> InboundMessage | None:
    """The item of a ``graph_raw`` envelope (a replay), or None."""
    platform = str(envelope.get("platform") or "")
    account = str(envelope.get("account") or "")
    data = envelope.get("data")
    if not isinstance(data, dict) or platform not in ("fb", "ig"):
        return None
    post_id = envelope.get("post_id")
    if envelope.get("kind") == "tagged":
        got = _tagged(channel, account, data)
    elif isinstance(post_id, str):
        got = _comment(channel, platform, account, post_id, data)
    else:
        got = _message(channel, platform, set(account.split(",")), data)
    return got[1] if got is not None else None


def _comment(
    channel: str, platform: str, account: str, post_id: str, comment: dict[str, Any]
) -> tuple[float, InboundMessage] | None:
    comment_id = text_of(comment.get("id"))
    created = iso_time(comment.get("created_time") or comment.get("timestamp"))
    sender = comment.get("from")
    sender = sender if isinstance(sender, dict) else {}
    author_id = text_of(sender.get("id"))
    if not comment_id or created is None or author_id == account:
        return None
    parent = comment.get("parent")
    parent_id = text_of(parent.get("id")) if isinstance(parent, dict) else None
    item = comment_item(
        channel=channel,
        platform=platform,
        account=account,
        comment_id=comment_id,
        author_id=author_id,
        author_name=text_of(sender.get("name")),
        username=text_of(comment.get("username")) or text_of(sender.get("username")),
        text=text_of(comment.get("message")) or text_of(comment.get("text")),
        parent_id=parent_id or text_of(comment.get("parent_id")),
        post_id=post_id,
        created=created,
        raw=graph_raw(platform, account, post_id, comment),
        source="catch_up",
    )
    return created.timestamp(), item


def _tagged(
    channel: str, account: str, media: dict[str, Any]
) -> tuple[float, InboundMessage] | None:
    """A media the account is tagged in, as the item of a caption @mention."""
    media_id = text_of(media.get("id"))
    created = iso_time(media.get("timestamp"))
    if not media_id or created is None:
        return None
    ref = MentionRef(
        account_id=account,
        media_id=media_id,
        comment_id=None,
        received_at=created,
        raw=b"{}",
    )
    raw = graph_raw("ig", account, None, media, kind="tagged")
    item = mention_item(channel, ref, media, raw=raw, source="catch_up")
    return created.timestamp(), item


def _message(
    channel: str, platform: str, own: set[str], message: dict[str, Any]
) -> tuple[float, InboundMessage] | None:
    mid = text_of(message.get("id"))
    created = iso_time(message.get("created_time"))
    sender = message.get("from")
    sender_id = text_of(sender.get("id")) if isinstance(sender, dict) else None
    if not mid or created is None or not sender_id or sender_id in own:
        return None  # ours, or not a message we can answer
    item = dm_item(
        channel=channel,
        platform=platform,
        mid=mid,
        sender=sender_id,
        text=text_of(message.get("message")),
        received=created,
        raw=graph_raw(platform, ",".join(sorted(own)), None, message),
        metadata={"platform": platform, "source": "catch_up"},
    )
    return created.timestamp(), item
