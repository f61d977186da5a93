"""X API v2 posts (JSON, as the API sends them) to ``InboundMessage``, and
the cursor and post-URL helpers of ``channels.x``.

Kept apart from ``channels.x`` so the network half stays small: everything
here is pure and works on the response dicts (tweepy with ``return_type=dict``).
The ``includes`` of a page are joined into each post: author handle and name,
place name and coordinates, media URLs (not downloaded), referenced posts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from contracts.errors import FatalChannelError
from contracts.records import InboundMessage, Location, RejectedItem, Reporter

# What Dengar asks X for; the emulator in tests returns only what is asked.
TWEET_FIELDS = (
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "geo",
    "lang",
    "attachments",
    "entities",
    "edit_history_tweet_ids",
    "withheld",
)
EXPANSIONS = (
    "author_id",
    "geo.place_id",
    "attachments.media_keys",
    "referenced_tweets.id",
)
USER_FIELDS = ("name", "username")
PLACE_FIELDS = ("full_name", "name", "country", "country_code", "geo", "place_type")
MEDIA_FIELDS = ("type", "url", "preview_image_url", "width", "height", "alt_text")

Json = dict[str, Any]

_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/"
    r"(?P<user>\w{1,15}|i/web)/status(?:es)?/(?P<id>\d{1,20})/?(?:[?#].*)?$"
)


class InvalidPost(ValueError):
    """A post the API sent that cannot become a message; the text says why."""


@dataclass(frozen=True, slots=True)
class Includes:
    """A page's ``includes``, indexed by id for joining."""

    users: Mapping[str, Json] = field(default_factory=dict)
    places: Mapping[str, Json] = field(default_factory=dict)
    media: Mapping[str, Json] = field(default_factory=dict)
    tweets: Mapping[str, Json] = field(default_factory=dict)

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Includes:
        """Index the ``includes`` of a response body (missing parts are empty)."""
        inc = body.get("includes") or {}

        def index(kind: str, key: str) -> dict[str, Json]:
            items = inc.get(kind) or []
            return {str(i[key]): i for i in items if isinstance(i, dict) and key in i}

        return cls(
            users=index("users", "id"),
            places=index("places", "id"),
            media=index("media", "media_key"),
            tweets=index("tweets", "id"),
        )


def post_url(username: str | None, tweet_id: str) -> str:
    """The public address of a post."""
    return f"https://x.com/{username or 'i/web'}/status/{tweet_id}"


def is_retweet(tweet: Mapping[str, Any]) -> bool:
    """True for a plain repost (quotes and replies are not)."""
    refs = tweet.get("referenced_tweets") or []
    return any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs)


def skip_reason(tweet: Mapping[str, Any], *, include_retweets: bool) -> str | None:
    """Why a post is deliberately not handed over, or None to keep it."""
    if tweet.get("withheld"):
        return "withheld"
    if not include_retweets and is_retweet(tweet):
        return "retweet"
    return None


def reject(channel: str, tweet: Any, reason: str) -> RejectedItem:
    """A post for quarantine; without a usable id, a hash of its JSON names it."""
    raw = json.dumps(tweet, ensure_ascii=False, sort_keys=True).encode()
    tweet_id = tweet.get("id") if isinstance(tweet, dict) else None
    if isinstance(tweet_id, str | int) and str(tweet_id).isdigit():
        external_id = str(tweet_id)
    else:
        external_id = "invalid:" + hashlib.sha256(raw).hexdigest()[:16]
    return RejectedItem(
        channel=channel, external_id=external_id, raw=raw, reason=reason
    )


def post_to_message(
    channel: str,
    tweet: Any,
    includes: Includes,
    *,
    source: str,
    own_user_ids: Iterable[str] = (),
) -> InboundMessage:
    """One post as an ``InboundMessage``; raises ``InvalidPost`` when malformed.

    ``message_id`` is ``x:<id>``; a reply to the same author's post (a thread)
    or to one of our own accounts (our public reply) gets ``in_reply_to``
    ``x:<parent id>`` so the pipeline threads it as a follow-up.
    """
    if not isinstance(tweet, dict):
        raise InvalidPost(f"post is a {type(tweet).__name__}, not a JSON object")
    tweet_id = str(tweet.get("id", ""))
    if not tweet_id.isdigit():
        raise InvalidPost(f"post has no numeric id (got {tweet.get('id')!r})")
    text = tweet.get("text")
    if not isinstance(text, str):
        raise InvalidPost(f"post {tweet_id} has no text")
    received_at = _created_at(tweet_id, tweet.get("created_at"))
    author_id = str(tweet.get("author_id") or "")
    author = includes.users.get(author_id, {})
    username = _text(author.get("username"))

    refs = _references(tweet, includes)
    in_reply_to: tuple[str, ...] = ()
    parent = next((r for r in refs if r["type"] == "replied_to"), None)
    replied_user = str(tweet.get("in_reply_to_user_id") or "")
    if parent and replied_user and replied_user in {author_id, *own_user_ids}:
        in_reply_to = (f"x:{parent['id']}",)

    media = [_media(includes.media.get(k, {}), k) for k in _media_keys(tweet)]
    place = includes.places.get(str((tweet.get("geo") or {}).get("place_id", "")))
    metadata: dict[str, Any] = {
        "source": source,
        "author_id": author_id or None,
        "conversation_id": tweet.get("conversation_id"),
        "referenced_tweets": refs,
        "lang": tweet.get("lang"),
        "url": post_url(username, tweet_id),
        "media": media,
        "media_urls": [m["url"] for m in media if m.get("url")],
    }
    if replied_user:
        metadata["in_reply_to_user_id"] = replied_user
    if place:
        metadata["place"] = {
            k: place.get(k) for k in ("id", "full_name", "country_code")
        }
    hashtags = (tweet.get("entities") or {}).get("hashtags") or []
    if hashtags:
        metadata["hashtags"] = [h.get("tag") for h in hashtags if isinstance(h, dict)]
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or []]
    edit_of = None
    if tweet_id in history and history.index(tweet_id) > 0:
        edit_of = history[history.index(tweet_id) - 1]

    raw = json.dumps(
        {"data": tweet, "includes": _used_includes(tweet, includes, author_id)},
        ensure_ascii=False,
    ).encode()
    return InboundMessage(
        channel=channel,
        external_id=tweet_id,
        received_at=received_at,
        raw=raw,
        raw_format="json",
        text=text,
        reporter=Reporter(name=_text(author.get("name")), handle=username),
        location=_location(tweet, place),
        in_reply_to=in_reply_to,
        message_id=f"x:{tweet_id}",
        metadata=MappingProxyType(metadata),
        edit_of=edit_of,
    )


def _created_at(tweet_id: str, value: Any) -> datetime:
    if value is None:
        # not requested or not sent: the id is a snowflake with the time in it
        return datetime.fromtimestamp(
            ((int(tweet_id) >> 22) + 1288834974657) / 1000, UTC
        )
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPost(
            f"post {tweet_id} has an unreadable created_at {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidPost(f"post {tweet_id} has created_at without a time zone")
    return parsed.astimezone(UTC)


def _references(tweet: Json, includes: Includes) -> list[Json]:
    refs: list[Json] = []
    for ref in tweet.get("referenced_tweets") or []:
        if not isinstance(ref, dict) or "id" not in ref:
            continue
        entry: Json = {"type": ref.get("type"), "id": str(ref["id"])}
        target = includes.tweets.get(str(ref["id"]))
        if target is None:
            entry["available"] = False  # deleted or not visible to us
        else:
            entry["text"] = target.get("text")
            entry["author_id"] = target.get("author_id")
        refs.append(entry)
    return refs


def _media_keys(tweet: Json) -> list[str]:
    keys = (tweet.get("attachments") or {}).get("media_keys") or []
    return [str(k) for k in keys]


def _media(item: Json, key: str) -> Json:
    return {
        "media_key": key,
        "type": item.get("type"),
        "url": item.get("url") or item.get("preview_image_url"),
        "alt_text": item.get("alt_text"),
    }


def _text(value: Any) -> str | None:
    # an expansion's field of the wrong type is dropped, not the post
    return value if isinstance(value, str) and value else None


def _location(tweet: Json, place: Json | None) -> Location | None:
    label = _text(place.get("full_name")) if place else None
    point = (tweet.get("geo") or {}).get("coordinates") or {}
    coords = point.get("coordinates") if isinstance(point, dict) else None
    if isinstance(coords, list) and len(coords) == 2:
        return _checked(coords[1], coords[0], label)  # GeoJSON is [lon, lat]
    bbox = ((place or {}).get("geo") or {}).get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        west, south, east, north = bbox
        try:
            return _checked((south + north) / 2, (west + east) / 2, label)
        except TypeError:
            return None
    return None


def _checked(lat: Any, lon: Any, label: str | None) -> Location | None:
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(latitude=lat, longitude=lon, label=label)


def _used_includes(tweet: Json, includes: Includes, author_id: str) -> Json:
    # the raw payload keeps only the includes this post uses, for replay
    used: Json = {}
    if author_id in includes.users:
        used["users"] = [includes.users[author_id]]
    place_id = str((tweet.get("geo") or {}).get("place_id", ""))
    if place_id in includes.places:
        used["places"] = [includes.places[place_id]]
    media = [includes.media[k] for k in _media_keys(tweet) if k in includes.media]
    if media:
        used["media"] = media
    refs = [
        includes.tweets[str(r.get("id"))]
        for r in tweet.get("referenced_tweets") or []
        if isinstance(r, dict) and str(r.get("id")) in includes.tweets
    ]
    if refs:
        used["tweets"] = refs
    return used


def public_reply_text(tracking_no: str | None, contact: str | None) -> str:
    """The public answer: only the tracking number and a contact, no data
    about the citizen or the complaint."""
    number = f" dengan nomor {tracking_no}" if tracking_no else ""
    text = f"Terima kasih, laporan Anda kami catat{number}."
    if contact:
        text += f" Untuk melanjutkan secara pribadi: {contact}"
    return text[:280]


def parse_post_url(url: str) -> str:
    """The post id in an ``x.com``/``twitter.com`` status URL, or ValueError."""
    match = _URL.match(url.strip())
    if match is None:
        raise ValueError(
            f"not an X post URL: {url!r} (expected https://x.com/<user>/status/<id>)"
        )
    return match.group("id")


class PostBatch:
    """What a fetch collects over all sources, without duplicates."""

    def __init__(
        self, channel: str, own_user_ids: Iterable[str], *, include_retweets: bool
    ) -> None:
        self.channel = channel
        self.own_user_ids = own_user_ids
        self.include_retweets = include_retweets
        self.items: list[InboundMessage] = []
        self.rejected: list[RejectedItem] = []
        self.skipped = 0
        self.more = False
        self._ids: set[str] = set()

    def take(self, posts: list[Any], includes: Includes, kind: str) -> list[str]:
        """Convert ``posts``; returns the ids of all of them, newest first."""
        ids: list[str] = []
        for post in posts:
            if not isinstance(post, dict):
                self.rejected.append(
                    reject(self.channel, post, "post is not a JSON object")
                )
                continue
            post_id = str(post.get("id", ""))
            if post_id.isdigit():
                ids.append(post_id)
            if post_id in self._ids:
                continue  # a mention that also matched a search
            self._ids.add(post_id)
            source = "mention" if kind == "mentions" else "search"
            try:
                reason = skip_reason(post, include_retweets=self.include_retweets)
                if reason is not None:
                    self.skipped += 1
                    continue
                self.items.append(
                    post_to_message(
                        self.channel,
                        post,
                        includes,
                        source=source,
                        own_user_ids=self.own_user_ids,
                    )
                )
            except InvalidPost as exc:
                self.rejected.append(reject(self.channel, post, str(exc)))
            except (TypeError, AttributeError, KeyError, ValueError) as exc:
                # a field of an unexpected type (fuzzing found e.g. "geo": true):
                # quarantine this post, not the whole page
                reason = f"malformed post: {type(exc).__name__}: {exc}"
                self.rejected.append(reject(self.channel, post, reason))
        return ids

    def hold_back_orphans(self, first: int, since: Any, oldest: str) -> str:
        """Where a poll cut short by its budget stops: after ``oldest``, the
        last post read, unless a self-reply among this source's items (from
        ``first`` on, newest first) answers a post the cut leaves for a later
        poll. That reply and everything older are then left for the next
        poll, which starts with the reply and so reads it with its parent
        when both fit in one poll; the id to read on below is returned.

        The newest item is never held back, so every poll makes progress."""
        mine = self.items[first:]
        for index, item in enumerate(mine[1:], start=1):
            parent = _self_reply_parent(item)
            if (
                parent is None
                or not _later(parent, since)
                or int(parent) >= int(oldest)
            ):
                continue
            for dropped in mine[index:]:
                self._ids.discard(dropped.external_id)
            del self.items[first + index :]
            return mine[index - 1].external_id
        return oldest


def _self_reply_parent(item: InboundMessage) -> str | None:
    """The id of the post ``item`` answers when its author answers
    themselves (a thread), else None."""
    author = item.metadata.get("author_id")
    if not author or item.metadata.get("in_reply_to_user_id") != author:
        return None
    for ref in item.in_reply_to:
        if ref.startswith("x:") and ref[2:].isdigit():
            return ref[2:]
    return None


def _later(post_id: str, since: Any) -> bool:
    """Whether ``post_id`` is newer than the ``since_id`` already read."""
    if since is None or not str(since).isdigit():
        return True
    return int(post_id) > int(str(since))


def load_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except json.JSONDecodeError:
        state = None
    if not isinstance(state, dict):
        raise FatalChannelError(
            "the stored X cursor is not a JSON object; reset the channel's cursor"
        )
    return state


def source_state(key: str, value: Any) -> tuple[str | None, str | None, str | None]:
    if value is None or isinstance(value, str | int):
        return (None if value is None else str(value)), None, None
    if isinstance(value, dict) and "until_id" in value:
        return value.get("since_id"), value["until_id"], value.get("newest_id")
    raise FatalChannelError(f"the stored X cursor for {key!r} is unreadable")
