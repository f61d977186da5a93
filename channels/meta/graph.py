"""The Graph API calls of the Page and Instagram channel (aiohttp, Page
access token in the Authorization header; the call and Meta's error JSON
are shared with WhatsApp in ``channels.meta_graph``).

Replies: the one private reply to a comment is ``POST /<page>/messages``
with ``recipient.comment_id``; a public reply is ``POST /<comment>/comments``
(Page) or ``POST /<comment>/replies`` (Instagram); a mention is answered
with ``POST /<ig account>/mentions``; a direct message is
``POST /<page>/messages`` with ``recipient.id``. The catch-up reads the
newest posts' and media's comments (on Instagram with their replies, which
the media's comments edge leaves out), the media the Instagram account is
tagged in, and the conversations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from channels.meta_graph import (
    Download,
    GraphError,
    download_capped,
    graph_json,
    http_client,
)
from channels.meta_json import iso_time

__all__ = ["Comments", "GraphError", "MetaGraph"]

log = logging.getLogger(__name__)

# Messenger and Instagram: a message outside the window (code 10, subcode
# 2018278), a person not reachable (551), a comment gone (100, subcode 33)
OUTSIDE_WINDOW = 10
NOT_AVAILABLE = 551
PERMISSION = 200
GONE_SUBCODE = 33
_FB_COMMENT_FIELDS = "id,message,from,created_time,parent{id}"
# ``hidden``: the account (or Instagram's filter) hid it; Instagram sends
# no webhook for that, the catch-up notices it (``channels.meta.removals``)
_IG_COMMENT_FIELDS = "id,text,timestamp,username,from,parent_id,hidden"
# the first replies come with their comment (one call per media); a comment
# with more is read on through GET /<comment>/replies
INLINE_REPLIES = 50
_IG_WITH_REPLIES = (
    f"{_IG_COMMENT_FIELDS},replies.limit({INLINE_REPLIES}){{{_IG_COMMENT_FIELDS}}}"
)
_TAGGED_FIELDS = "id,caption,timestamp,username,permalink"
# pages of a list read at most (a post has no more than 5,000 comments here)
MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class Comments:
    """The comments of a post or media, and whether every page of them (and
    of their replies) was read: only then may a missing one count as gone."""

    items: list[dict[str, Any]]
    complete: bool


_MESSAGE_FIELDS = "id,message,from,created_time"


class MetaGraph:
    """Calls for one Page and its Instagram account."""

    def __init__(
        self, base_url: str, version: str, token: str, max_pages: int = MAX_PAGES
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._http = http_client(token)
        self._max_pages = max_pages
        self._usernames: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"MetaGraph(base={self._base!r})"

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return await graph_json(self._http, method, f"{self._base}/{path}", **kwargs)

    async def node(self, node_id: str, fields: str = "id,name") -> dict[str, Any]:
        """One object (the Page, the account: a cheap credentials check)."""
        return await self._call("GET", node_id, params={"fields": fields})

    async def username(self, account: str) -> str | None:
        """The Instagram account's @username (asked once per process)."""
        if account not in self._usernames:
            found = (await self.node(account, "id,username")).get("username")
            self._usernames[account] = found if isinstance(found, str) else None
        return self._usernames[account]

    # -- replies -------------------------------------------------------------

    async def private_reply(
        self, sender: str, object_id: str, text: str, *, post: bool = False
    ) -> str:
        """The one private message to the author of a comment (or, ``post``,
        of a visitor's post); returns its mid."""
        key = "post_id" if post else "comment_id"
        answer = await self._call(
            "POST",
            f"{sender}/messages",
            json={"recipient": {key: object_id}, "message": {"text": text}},
        )
        return _id_of(answer, "message_id")

    async def public_reply(self, platform: str, comment_id: str, text: str) -> str:
        """A reply under the comment, visible to everyone; returns its id."""
        edge = "replies" if platform == "ig" else "comments"
        answer = await self._call(
            "POST", f"{comment_id}/{edge}", json={"message": text}
        )
        return _id_of(answer, "id")

    async def mention_reply(
        self, account: str, media_id: str, comment_id: str | None, text: str
    ) -> str:
        """A comment answering an @mention of the Instagram account."""
        body = {"media_id": media_id, "message": text}
        if comment_id:
            body["comment_id"] = comment_id
        answer = await self._call("POST", f"{account}/mentions", json=body)
        return _id_of(answer, "id")

    async def send_message(
        self,
        sender: str,
        recipient: str,
        text: str,
        *,
        human_agent: bool = False,
        quick_replies: Sequence[tuple[str, str]] = (),
    ) -> str:
        """A direct message (Messenger or Instagram); returns its mid.
        ``human_agent``: outside the 24 hours, with the HUMAN_AGENT tag;
        ``quick_replies``: (title, payload) buttons under the text."""
        message: dict[str, Any] = {"text": text}
        if quick_replies:
            message["quick_replies"] = [
                {"content_type": "text", "title": title, "payload": payload}
                for title, payload in quick_replies
            ]
        body: dict[str, Any] = {
            "recipient": {"id": recipient},
            "messaging_type": "MESSAGE_TAG" if human_agent else "RESPONSE",
            "message": message,
        }
        if human_agent:
            body["tag"] = "HUMAN_AGENT"
        answer = await self._call("POST", f"{sender}/messages", json=body)
        return _id_of(answer, "message_id")

    # -- reading -------------------------------------------------------------

    async def mentioned(
        self, account: str, media_id: str, comment_id: str | None
    ) -> dict[str, Any]:
        """The comment or caption that @mentions the account."""
        if comment_id:
            fields = (
                f"mentioned_comment.comment_id({comment_id})"
                "{id,text,timestamp,username,media{id}}"
            )
            key = "mentioned_comment"
        else:
            fields = (
                f"mentioned_media.media_id({media_id}){{id,caption,timestamp,username}}"
            )
            key = "mentioned_media"
        answer = await self._call("GET", account, params={"fields": fields})
        found = answer.get(key)
        if not isinstance(found, dict):
            raise GraphError(f"{key} missing from the answer")
        return found

    async def recent_posts(self, page_id: str, limit: int) -> list[dict[str, Any]]:
        """The Page's newest posts (id, created_time)."""
        answer = await self._call(
            "GET",
            f"{page_id}/feed",
            params={"fields": "id,created_time", "limit": limit},
        )
        return _data(answer)

    async def recent_media(self, account: str, limit: int) -> list[dict[str, Any]]:
        """The Instagram account's newest media (id, timestamp)."""
        answer = await self._call(
            "GET", f"{account}/media", params={"fields": "id,timestamp", "limit": limit}
        )
        return _data(answer)

    async def comments(self, platform: str, object_id: str) -> Comments:
        """Every comment on a post or media, following the pages; on
        Instagram also every reply (after its comment)."""
        params: dict[str, Any] = {"limit": 100}
        if platform == "fb":
            # the stream filter lists replies beside the top-level comments
            params.update(
                fields=_FB_COMMENT_FIELDS, filter="stream", order="chronological"
            )
            return await self._all(f"{object_id}/comments", params)
        params["fields"] = _IG_WITH_REPLIES
        top = await self._all(f"{object_id}/comments", params)
        found: list[dict[str, Any]] = []
        complete = top.complete
        for comment in top.items:
            replies = await self._replies(comment, comment.pop("replies", None))
            found.append(comment)
            found.extend(replies.items)
            complete = complete and replies.complete
        return Comments(found, complete)

    async def _replies(self, comment: dict[str, Any], inline: object) -> Comments:
        """The replies to an Instagram comment: those that came inline, and
        when Meta paged them, the rest through ``GET /<comment>/replies``."""
        if not isinstance(inline, dict):
            return Comments([], True)  # no replies (Meta leaves an empty edge out)
        found = _data(inline)
        after = _next_after(inline)
        comment_id = comment.get("id")
        if not after:
            return Comments(found, True)
        if not isinstance(comment_id, str):
            return Comments(found, False)
        rest = await self._all(
            f"{comment_id}/replies",
            {"fields": _IG_COMMENT_FIELDS, "limit": 100, "after": after},
        )
        return Comments(found + rest.items, rest.complete)

    async def tagged_media(
        self, account: str, newer_than: float, page_size: int, max_pages: int
    ) -> list[dict[str, Any]]:
        """Other accounts' media the Instagram account is tagged in
        (``GET /<ig user>/tags``, newest first): page on until a page
        reaches media not newer than ``newer_than`` (epoch seconds), at most
        ``max_pages`` pages (logged when that bound cuts the read short)."""
        params: dict[str, Any] = {"fields": _TAGGED_FIELDS, "limit": page_size}
        found: list[dict[str, Any]] = []
        for _page in range(max_pages):
            answer = await self._call("GET", f"{account}/tags", params=params)
            page = _data(answer)
            found.extend(page)
            after = _next_after(answer)
            if not after or any(_older(m, newer_than) for m in page):
                return found
            params = {**params, "after": after}
        log.warning(
            "Instagram account %s: stopped reading tagged media after %d pages "
            "(%d media); older ones tagged since the last catch-up stay unread",
            account,
            max_pages,
            len(found),
        )
        return found

    async def conversation_messages(
        self, account: str, platform: str
    ) -> list[dict[str, Any]]:
        """The newest messages of the recent conversations."""
        conversations = await self._call(
            "GET",
            f"{account}/conversations",
            params={
                "platform": "instagram" if platform == "ig" else "messenger",
                "fields": f"id,updated_time,messages.limit(25){{{_MESSAGE_FIELDS}}}",
                "limit": 25,
            },
        )
        found: list[dict[str, Any]] = []
        for conversation in _data(conversations):
            messages = conversation.get("messages")
            if isinstance(messages, dict):
                found.extend(_data(messages))
        return found

    async def _all(self, path: str, params: dict[str, Any]) -> Comments:
        found: list[dict[str, Any]] = []
        answer = await self._call("GET", path, params=params)
        for page in range(1, self._max_pages + 1):
            found.extend(_data(answer))
            after = _next_after(answer)
            if not after:
                return Comments(found, True)
            if page == self._max_pages:
                break
            answer = await self._call("GET", path, params={**params, "after": after})
        log.warning("%s: stopped after %d pages", path, self._max_pages)
        return Comments(found, False)

    async def download(self, url: str, limit: int) -> Download:
        """An attachment from Meta's CDN, at most ``limit`` bytes."""
        return await download_capped(self._http, url, limit)


def _data(answer: dict[str, Any]) -> list[dict[str, Any]]:
    data = answer.get("data")
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _older(media: dict[str, Any], than: float) -> bool:
    """Whether a media of ``/tags`` is not newer than ``than``."""
    created = iso_time(media.get("timestamp"))
    return created is not None and created.timestamp() <= than


def _next_after(answer: dict[str, Any]) -> str | None:
    """The cursor of the next page, when Meta says there is one."""
    paging = answer.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def _id_of(answer: dict[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise GraphError(f"answer without {key}")
    return value
