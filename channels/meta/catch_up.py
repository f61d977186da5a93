"""The catch-up read of the Graph API: comments on the newest posts and
media (Instagram replies too), the media the Instagram account was tagged
in since the last read (its @mentions), and the newest direct messages, for
what the webhooks missed (Meta drops deliveries after repeated failures);
also Instagram comments deleted or hidden since (``channels.meta.removals``:
Instagram sends no webhook for those).

A tagged media becomes the item a ``mentions`` webhook makes of a caption
@mention of that media (``ig:mention:<media id>``), so either way it is one
record; when its caption does not @mention the account (it is only tagged
in the photo) its ``comment_ref`` is ``ig-tagged:<media>``: Meta allows
neither a comment there nor a private reply. Comment @mentions on other
accounts' media cannot be listed by the Graph API (``mentioned_comment``
needs the id a webhook brings): only the webhook finds them.

Cursor: JSON ``{"since": <epoch seconds>, "at_since": [external ids read
at that second], "polled_at": <epoch seconds>, "ig_watch": {<media>:
{<comment>: [created, hidden, changes]}}}``. An item is new when it is
younger than ``since``, or as old and not yet read. A read cut short by the
batch limit keeps the oldest items, advances ``since`` to the last of them
and leaves ``polled_at`` as it was, so the next fetch reads on at once.
What the webhooks already brought comes again with the same external id and
is recognised by the pipeline.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from channels.meta import removals
from channels.meta.graph import MetaGraph
from channels.meta.items import MentionRef, comment_item, dm_item, mention_item
from channels.meta_json import iso_time, text_of
from contracts.errors import FatalChannelError
from contracts.records import InboundMessage

# how far back the very first catch-up reads
FIRST_LOOKBACK = 2 * 24 * 3600
# tagged media: the page size, and the most pages one catch-up reads (it
# pages on until it reaches media older than the last read)
TAGGED_PAGE = 50
TAGGED_MAX_PAGES = 20


@dataclass(slots=True)
class CatchUpState:
    """The catch-up's part of the cursor."""

    since: float | None = None
    at_since: list[str] = field(default_factory=list)
    polled_at: float = 0.0
    watch: removals.Watch = field(default_factory=dict)

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
                watch=removals.load_watch(data.get("ig_watch")),
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
                "ig_watch": self.watch,
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


@dataclass(slots=True)
class _Polled:
    found: list[tuple[float, InboundMessage]] = field(default_factory=list)
    # the Instagram media whose comments were read
    reads: list[removals.MediaRead] = field(default_factory=list)


async def read(
    graph: MetaGraph, accounts: Accounts, state: CatchUpState, room: int
) -> tuple[list[InboundMessage], CatchUpState, bool]:
    """The new items, oldest first, at most ``room``; the state after them;
    whether more were left. Deletions and hidings noticed come first."""
    now = time.time()
    if state.since is None:
        state = CatchUpState(since=now - FIRST_LOOKBACK, watch=state.watch)
    assert state.since is not None
    polled = await _everything(graph, accounts, state.since)
    found = [
        (stamp, item)
        for stamp, item in polled.found
        if state.is_new(stamp, item.external_id)
    ]
    found.sort(key=lambda pair: (pair[0], pair[1].external_id))
    account = accounts.instagram_account_id or ""
    watch = removals.kept(state.watch, polled.reads, now)
    noticed = removals.changes(
        accounts.channel, account, state.watch, polled.reads, now
    )
    out = [change.item for change in noticed[:room]]
    for change in noticed[:room]:
        comments = watch.setdefault(change.media_id, {})
        if change.entry is None:
            comments.pop(change.comment_id, None)
        else:
            comments[change.comment_id] = change.entry
    cut = len(noticed) > room
    after = CatchUpState(
        since=state.since, at_since=list(state.at_since), polled_at=state.polled_at
    )
    seen = {r.media_id: r.seen for r in polled.reads}
    cutoff = now - removals.WATCH_SECONDS
    for stamp, item in [] if cut else found:
        media_id = str(item.metadata.get("post_id") or "")
        comment_id = item.external_id.removeprefix("ig:comment:")
        known = seen.get(media_id, {}).get(comment_id)
        if item.external_id == comment_id or (known and known[0] < cutoff):
            known = None  # not an Instagram comment, or too old to watch
        hidden = known is not None and known[1]
        if len(out) + 1 + hidden > room:
            cut = True
            break
        out.append(item)
        if stamp != after.since:
            after.since, after.at_since = stamp, []
        after.at_since.append(item.external_id)
        if known is not None:
            watch.setdefault(media_id, {}).setdefault(
                comment_id, [known[0], int(hidden), int(hidden)]
            )
            if hidden:  # handed over already hidden: marked at once
                out.append(
                    removals.first_hidden(
                        accounts.channel, account, media_id, comment_id
                    )
                )
    after.polled_at = state.polled_at if cut else now
    after.watch = removals.bounded(watch)
    return out, after, cut


async def _everything(graph: MetaGraph, accounts: Accounts, since: float) -> _Polled:
    polled = _Polled()
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
            comments = await graph.comments(platform, post_id)
            if platform == "ig":
                polled.reads.append(
                    removals.seen_on(post_id, comments.items, comments.complete)
                )
            for comment in comments.items:
                got = _comment(accounts.channel, platform, account, post_id, comment)
                if got is not None:
                    polled.found.append(got)
        if platform == "ig":
            username = await graph.username(account)
            for media in await graph.tagged_media(
                account, since, TAGGED_PAGE, TAGGED_MAX_PAGES
            ):
                mentioned = username is None or mentions(media, username)
                tagged = _tagged(accounts.channel, account, media, mentioned)
                if tagged is not None:
                    polled.found.append(tagged)
        # Instagram messages of a Page-linked account are read through the Page
        sender = accounts.page_id or account
        for message in await graph.conversation_messages(sender, platform):
            got = _message(accounts.channel, platform, {account, sender}, message)
            if got is not None:
                polled.found.append(got)
    return polled


def mentions(media: dict[str, Any], username: str) -> bool:
    """Whether a media's caption @mentions ``username`` (Instagram
    usernames: letters, digits, ``.`` and ``_``, any case)."""
    caption = text_of(media.get("caption")) or ""
    pattern = rf"(?<![\w.])@{re.escape(username)}(?![\w.])"
    return re.search(pattern, caption, re.IGNORECASE) is not None


def graph_raw(
    platform: str,
    account: str,
    post_id: str | None,
    data: dict[str, Any],
    kind: str | None = None,
    caption_mention: bool | None = None,
) -> bytes:
    """The raw bytes of a caught-up item: what the Graph API sent (``data``)
    with what the request said about it, so that a replay rebuilds it
    (``kind``: ``tagged`` for a media of ``/tags``, with whether its caption
    @mentions the account; ``change`` for ``channels.meta.removals``; else
    a comment when there is a ``post_id``, a message when not)."""
    envelope: dict[str, Any] = {
        "source": "graph",
        "platform": platform,
        "account": account,
        "post_id": post_id,
        "data": data,
    }
    if kind:
        envelope["kind"] = kind
    if caption_mention is not None:
        envelope["caption_mention"] = caption_mention
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()


def rebuild(channel: str, envelope: dict[str, Any]) -> InboundMessage | None:
    """The item of a ``graph_raw`` envelope (a replay), or None."""
    platform = str(envelope.get("platform") or "")
    account = str(envelope.get("account") or "")
    data = envelope.get("data")
    if not isinstance(data, dict) or platform not in ("fb", "ig"):
        return None
    post_id = envelope.get("post_id")
    if envelope.get("kind") == "change":
        return removals.rebuild(channel, envelope)
    if envelope.get("kind") == "tagged":
        got = _tagged(
            channel, account, data, envelope.get("caption_mention") is not False
        )
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
    channel: str, account: str, media: dict[str, Any], caption_mention: bool
) -> tuple[float, InboundMessage] | None:
    """A media the account is tagged in, as the item of a caption @mention;
    one whose caption does not @mention the account cannot be answered."""
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
    raw = graph_raw("ig", account, None, media, "tagged", caption_mention)
    item = mention_item(channel, ref, media, raw=raw, source="catch_up")
    if not caption_mention:
        metadata = {**item.metadata, "comment_ref": f"ig-tagged:{media_id}"}
        item = replace(item, metadata=metadata)
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
