"""A local emulator of the Graph API of a Facebook Page and its Instagram
professional account, for tests, plus builders of the webhook bodies Meta
sends (Page ``feed`` and ``messaging``, Instagram ``comments``,
``mentions`` and ``messaging``).

Shapes from Meta's references (developers.facebook.com: Webhooks for
Pages, Messenger Platform webhooks and Send API, Private Replies,
Instagram Platform webhook examples and comment moderation):

- webhook envelope ``{"object": "page"|"instagram", "entry": [{"id",
  "time", "changes": [{"field", "value"}]}]}``, messaging events under
  ``entry[].messaging[]`` with ``sender.id``, ``recipient.id``,
  ``timestamp`` (ms) and ``message: {mid, text, attachments, reply_to}``;
- Page feed comment value: ``{"from": {"id", "name"}, "item": "comment",
  "verb": "add"|"edited"|"remove"|"hide", "comment_id", "post_id",
  "parent_id", "created_time", "message", "post": {...}}``;
- Instagram comment value ``{"id", "from": {"id", "username"}, "text",
  "media": {"id", "media_product_type"}, "parent_id"}``; mention value
  ``{"media_id", "comment_id"}``;
- ``GET /<media>/comments`` (Instagram: top-level comments only, each
  with ``replies{...}`` when the fields ask for it: ``{"data", "paging"}``),
  ``GET /<ig comment>/replies``, ``GET /<ig user>/tags`` (media the
  account is tagged in, newest first), ``GET /<ig user>?fields=
  mentioned_media.media_id(<id>){...}`` / ``mentioned_comment.comment_id``;
  lists are ``{"data": [...], "paging": {"cursors": {"after"}, "next"}}``;
- ``POST /<page>/messages`` answers ``{"recipient_id", "message_id"}``;
  ``POST /<comment>/comments`` and ``/replies`` answer ``{"id"}``;
- errors ``{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}``: 190 bad token (401), 10 with subcode 2018278 outside
  the messaging window, 551 person not available, 100 subcode 33 object
  gone, 200 permission missing, 4 / 32 / 613 rate limits;
- Instagram comments carry ``hidden`` (the account hid them); a deleted
  comment is no longer listed (Instagram sends no webhook for either);
- ``POST /<ig user>/mentions`` on a media the account is only tagged in
  (no @mention in its caption) is refused: Meta's reference says
  "commenting on photos in which you were tagged is not supported" without
  naming the error, so the emulator answers code 10 (permission denied for
  this action).

Checked as Meta checks them: the bearer token; one private reply per
comment and only within 7 days of it; direct messages only within 24 hours
of the person's last message, or 7 days with the HUMAN_AGENT tag.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.serve import serve
from tests.fakes.whatsapp_api import FailureQueue, bad_token, graph_error
from tests.fakes.whatsapp_api import signed as whatsapp_signed

TOKEN = "EAAM-test-page-access-token"
APP_SECRET = "test-meta-app-secret-fedcba987654"
VERIFY_TOKEN = "test-meta-verify-token"
PAGE_ID = "104250918872231"
IG_ID = "17841405822304914"
IG_USERNAME = "pemkabkotabaru"
DAY = 24 * 3600


def graph_time(epoch: float) -> str:
    """A time as the Graph API writes it (``2024-05-01T08:00:00+0000``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class _Comment:
    comment_id: str
    platform: str
    post_id: str
    author_id: str
    author: str
    text: str
    created: float
    parent_id: str | None = None
    replies: list[_Comment] = field(default_factory=list)
    hidden: bool = False


@dataclass
class _Tagged:
    """Another account's media the Instagram account is tagged (and
    @mentioned) in."""

    media_id: str
    caption: str
    username: str
    created: float


@dataclass
class _Post:
    post_id: str
    created: float
    comments: list[_Comment] = field(default_factory=list)


class FakeMetaApi:
    """The Graph API of one Page and its Instagram account, on 127.0.0.1."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.base_url = ""
        self.posts: dict[str, list[_Post]] = {PAGE_ID: [], IG_ID: []}
        self.comments: dict[str, _Comment] = {}
        self.last_message: dict[str, float] = {}  # person id -> their last DM
        self.conversation: list[dict[str, Any]] = []  # messages, newest first
        self.tagged: list[_Tagged] = []  # newest first
        self.files: dict[str, bytes] = {}
        self.sent: list[dict[str, Any]] = []  # every accepted POST body
        self.private_replied: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._failures = FailureQueue()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ helpers

    def new_id(self) -> str:
        """A fresh numeric id, as Meta's are."""
        return str(900000 + next(self._ids))

    def add_post(self, platform: str = "fb", created: float | None = None) -> str:
        """A post of the Page (``fb``) or a media of the account (``ig``)."""
        account = PAGE_ID if platform == "fb" else IG_ID
        raw = self.new_id()
        post_id = f"{PAGE_ID}_{raw}" if platform == "fb" else raw
        self.posts[account].insert(0, _Post(post_id, created or time.time()))
        return post_id

    def add_comment(
        self,
        post_id: str,
        text: str,
        *,
        platform: str = "fb",
        author_id: str = "6001",
        author: str = "Budi Santoso",
        created: float | None = None,
        parent_id: str | None = None,
    ) -> str:
        """A citizen's comment, readable through ``/<post>/comments``."""
        raw = self.new_id()
        comment_id = f"{post_id.split('_')[-1]}_{raw}" if platform == "fb" else raw
        comment = _Comment(
            comment_id,
            platform,
            post_id,
            author_id,
            author,
            text,
            created or time.time(),
            parent_id,
        )
        self.comments[comment_id] = comment
        parent = self.comments.get(parent_id or "")
        if platform == "ig" and parent is not None:
            # Instagram lists a reply under its comment, not on the media
            parent.replies.append(comment)
            return comment_id
        for posts in self.posts.values():
            for post in posts:
                if post.post_id == post_id:
                    post.comments.append(comment)
        return comment_id

    def hide_comment(self, comment_id: str, hidden: bool = True) -> None:
        """The account hides (or shows again) an Instagram comment."""
        self.comments[comment_id].hidden = hidden

    def delete_comment(self, comment_id: str) -> None:
        """The author or the account deletes a comment (and its replies)."""
        comment = self.comments.pop(comment_id)
        parent = self.comments.get(comment.parent_id or "")
        if parent is not None and comment in parent.replies:
            parent.replies.remove(comment)
        for posts in self.posts.values():
            for post in posts:
                if comment in post.comments:
                    post.comments.remove(comment)

    def tag_account(
        self,
        caption: str,
        *,
        username: str = "warga_kotabaru",
        created: float | None = None,
    ) -> str:
        """Another account's media that tags ours (and @mentions it when the
        caption says ``@pemkabkotabaru``); readable through
        ``/<ig user>/tags`` and ``mentioned_media``."""
        media_id = self.new_id()
        self.tagged.insert(
            0, _Tagged(media_id, caption, username, created or time.time())
        )
        return media_id

    def person_wrote(
        self, person: str, text: str = "", at: float | None = None, mid: str = ""
    ) -> str:
        """A direct message from ``person`` (opens their window)."""
        when = at or time.time()
        self.last_message[person] = max(when, self.last_message.get(person, 0.0))
        mid = mid or f"m_{self.new_id()}"
        self.conversation.insert(
            0,
            {
                "id": mid,
                "message": text,
                "from": {"id": person, "name": "Warga"},
                "created_time": graph_time(when),
            },
        )
        return mid

    def add_file(self, data: bytes) -> str:
        """An attachment on the CDN; returns its URL."""
        key = self.new_id()
        self.files[key] = data
        return f"{self.base_url}/cdn/{key}"

    def fail(
        self,
        kind: str,
        code: int,
        message: str,
        times: int = 1,
        *,
        status: int = 400,
        subcode: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``kind`` (``messages``,
        ``comments``, ``read``) answer an error."""
        self._failures.add(kind, code, message, times, status=status, subcode=subcode)

    # ------------------------------------------------------------ server

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeMetaApi]:
        """Serve on a free loopback port for the duration of the block."""
        app = web.Application()
        app.router.add_get("/cdn/{key}", self._cdn)
        app.router.add_post("/{version}/{sender}/messages", self._messages)
        app.router.add_post("/{version}/{account}/mentions", self._mention_reply)
        app.router.add_post("/{version}/{comment}/{edge:comments|replies}", self._reply)
        app.router.add_get("/{version}/{node}/{edge}", self._edge)
        app.router.add_get("/{version}/{node}", self._node)
        async with serve(app) as self.base_url:
            yield self

    def _refused(self, request: web.Request, kind: str) -> web.Response | None:
        self.calls.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return bad_token()
        return self._failures.next(kind)

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["key"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/jpeg")

    async def _node(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request, "read")) is not None:
            return refused
        node = request.match_info["node"]
        fields = request.query.get("fields", "")
        if node == IG_ID and fields.startswith("mentioned_"):
            return self._mentioned(fields)
        if node not in (PAGE_ID, IG_ID, "me") and node not in self.comments:
            return graph_error(
                100,
                f"Unsupported get request. Object with ID '{node}' does not exist",
                error_subcode=33,
            )
        found = {"id": node, "name": "Pemkab Kotabaru"}
        if node == IG_ID and "username" in fields:
            found["username"] = IG_USERNAME
        return web.json_response(found)

    def _mentioned(self, fields: str) -> web.Response:
        kind, _, rest = fields.partition(".")
        wanted = rest.split("(", 1)[1].split(")", 1)[0]
        if kind == "mentioned_comment":
            comment = self.comments.get(wanted)
            if comment is None:
                return graph_error(100, "Invalid comment id", error_subcode=33)
            found = {
                "id": comment.comment_id,
                "text": comment.text,
                "timestamp": graph_time(comment.created),
                "username": comment.author,
                "media": {"id": comment.post_id},
            }
        else:
            tagged = next((t for t in self.tagged if t.media_id == wanted), None)
            found = (
                self._tagged_json(tagged)
                if tagged is not None
                else {
                    "id": wanted,
                    "caption": "@pemkabkotabaru jalan berlubang di depan pasar",
                    "timestamp": graph_time(time.time()),
                    "username": "warga_kotabaru",
                }
            )
        return web.json_response({kind: found, "id": IG_ID})

    @staticmethod
    def _tagged_json(tagged: _Tagged) -> dict[str, Any]:
        return {
            "id": tagged.media_id,
            "caption": tagged.caption,
            "timestamp": graph_time(tagged.created),
            "username": tagged.username,
            "media_type": "IMAGE",
            "permalink": f"https://www.instagram.com/p/{tagged.media_id}/",
        }

    async def _edge(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request, "read")) is not None:
            return refused
        node, edge = request.match_info["node"], request.match_info["edge"]
        limit = int(request.query.get("limit", "25"))
        if edge in ("feed", "media") and node in self.posts:
            key = "created_time" if edge == "feed" else "timestamp"
            data = [
                {"id": p.post_id, key: graph_time(p.created)}
                for p in self.posts[node][:limit]
            ]
            return web.json_response({"data": data})
        after = request.query.get("after")
        fields = request.query.get("fields", "")
        if edge == "comments":
            return self._comments(node, limit, after, fields)
        if edge == "replies":
            parent = self.comments.get(node)
            if parent is None or parent.platform != "ig":
                return graph_error(100, "Object does not exist", error_subcode=33)
            return self._page(parent.replies, limit, after, fields)
        if edge == "tags" and node == IG_ID:
            tagged = [self._tagged_json(t) for t in self.tagged]
            return web.json_response(_paged(tagged, limit, after))
        if edge == "conversations":
            if request.query.get("platform") == "instagram":
                return web.json_response({"data": []})
            messages = {"data": self.conversation[:25]}
            return web.json_response(
                {
                    "data": [{"id": "t_1", "updated_time": "", "messages": messages}]
                    if self.conversation
                    else []
                }
            )
        return graph_error(100, f"Unknown path components: /{edge}")

    def _comments(
        self, node: str, limit: int, after: str | None, fields: str
    ) -> web.Response:
        posts = [p for ps in self.posts.values() for p in ps if p.post_id == node]
        if not posts:
            return graph_error(100, "Object does not exist", error_subcode=33)
        return self._page(posts[0].comments, limit, after, fields)

    def _page(
        self, comments: list[_Comment], limit: int, after: str | None, fields: str
    ) -> web.Response:
        # ``replies.limit(n){...}`` in the fields: each comment's first n
        # replies inline, as Graph API field expansion gives them
        expand = re.search(r"(?:^|,)replies(?:\.limit\((\d+)\))?\{", fields)
        found = []
        for comment in comments:
            shown = self._comment_json(comment)
            if expand and comment.replies:
                inline = int(expand.group(1) or 25)
                shown["replies"] = _paged(
                    [self._comment_json(r) for r in comment.replies], inline, None
                )
            found.append(shown)
        return web.json_response(_paged(found, limit, after))

    @staticmethod
    def _comment_json(comment: _Comment) -> dict[str, Any]:
        if comment.platform == "fb":
            found: dict[str, Any] = {
                "id": comment.comment_id,
                "message": comment.text,
                "created_time": graph_time(comment.created),
                "from": {"id": comment.author_id, "name": comment.author},
            }
            if comment.parent_id:
                found["parent"] = {"id": comment.parent_id}
            return found
        found = {
            "id": comment.comment_id,
            "text": comment.text,
            "timestamp": graph_time(comment.created),
            "username": comment.author,
            "from": {"id": comment.author_id, "username": comment.author},
            "hidden": comment.hidden,
        }
        if comment.parent_id:
            found["parent_id"] = comment.parent_id
        return found

    async def _messages(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request, "messages")) is not None:
            return refused
        body = await request.json()
        recipient = body.get("recipient") or {}
        text = ((body.get("message") or {}).get("text")) or ""
        if not text or len(text) > 2000:
            return graph_error(100, "Invalid parameter: message text 1-2000 chars")
        quick = (body.get("message") or {}).get("quick_replies") or []
        if len(quick) > 13 or any(len(q.get("title", "")) > 20 for q in quick):
            return graph_error(100, "Invalid parameter: quick_replies")
        if "post_id" in recipient:
            posts = [p for ps in self.posts.values() for p in ps]
            post = next((p for p in posts if p.post_id == recipient["post_id"]), None)
            if post is None:
                return graph_error(100, "Object does not exist", error_subcode=33)
            if post.post_id in self.private_replied:
                return graph_error(
                    10, "Reply already sent for this post", error_subcode=2018067
                )
            self.private_replied.add(post.post_id)
            person = "visitor"
        elif "comment_id" in recipient:
            comment = self.comments.get(recipient["comment_id"])
            if comment is None:
                return graph_error(100, "Object does not exist", error_subcode=33)
            if comment.comment_id in self.private_replied:
                return graph_error(
                    10, "Reply already sent for this comment", error_subcode=2018067
                )
            if time.time() - comment.created > 7 * DAY:
                return graph_error(
                    10,
                    "This message is sent outside of allowed window.",
                    error_subcode=2018278,
                )
            self.private_replied.add(comment.comment_id)
            person = comment.author_id
        else:
            person = str(recipient.get("id") or "")
            last = self.last_message.get(person)
            tagged = body.get("messaging_type") == "MESSAGE_TAG" and (
                body.get("tag") == "HUMAN_AGENT"
            )
            allowed = 7 * DAY if tagged else DAY
            if last is None or time.time() - last > allowed:
                return graph_error(
                    10,
                    "This message is sent outside of allowed window.",
                    error_subcode=2018278,
                )
        self.sent.append(body)
        return web.json_response(
            {"recipient_id": person, "message_id": f"m_{self.new_id()}"}
        )

    async def _reply(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request, "comments")) is not None:
            return refused
        comment_id = request.match_info["comment"]
        if comment_id not in self.comments:
            return graph_error(100, "Object does not exist", error_subcode=33)
        body = await request.json()
        self.sent.append({"reply_to": comment_id, **body})
        raw = self.new_id()
        return web.json_response({"id": f"{comment_id.split('_')[0]}_{raw}"})

    async def _mention_reply(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request, "comments")) is not None:
            return refused
        body = await request.json()
        tagged = next((t for t in self.tagged if t.media_id == body["media_id"]), None)
        if tagged is not None and f"@{IG_USERNAME}" not in tagged.caption.lower():
            return graph_error(
                10, "Application does not have permission for this action"
            )
        self.sent.append({"mention": True, **body})
        return web.json_response({"id": self.new_id()})


def _paged(data: list[dict[str, Any]], limit: int, after: str | None) -> dict[str, Any]:
    """One page of a Graph API list, with the cursor of the next."""
    start = int(after or 0)
    body: dict[str, Any] = {"data": data[start : start + limit]}
    if start + limit < len(data):
        body["paging"] = {
            "cursors": {"before": str(start), "after": str(start + limit)},
            "next": "https://graph.facebook.com/next",
        }
    return body


# ---------------------------------------------------------------- webhooks


def page_feed_webhook(
    comment_id: str,
    message: str | None,
    *,
    verb: str = "add",
    post_id: str = f"{PAGE_ID}_5001",
    parent_id: str | None = None,
    author_id: str = "6001",
    author: str = "Budi Santoso",
    created: float | None = None,
    page_id: str = PAGE_ID,
) -> dict[str, Any]:
    """A Page ``feed`` change for a comment (add, edited, remove, hide)."""
    value: dict[str, Any] = {
        "from": {"id": author_id, "name": author},
        "post": {"status_type": "added_photos", "is_published": True, "id": post_id},
        "post_id": post_id,
        "comment_id": comment_id,
        "created_time": int(created or time.time()),
        "item": "comment",
        "parent_id": parent_id or post_id,
        "verb": verb,
    }
    if message is not None:
        value["message"] = message
    return _envelope("page", page_id, changes=[{"field": "feed", "value": value}])


def messaging_webhook(
    platform: str,
    sender: str,
    message: dict[str, Any],
    *,
    account: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """A Messenger (``fb``) or Instagram (``ig``) message event."""
    own = account or (PAGE_ID if platform == "fb" else IG_ID)
    event = {
        "sender": {"id": sender},
        "recipient": {"id": own},
        "timestamp": int((at or time.time()) * 1000),
        **message,
    }
    return _envelope(
        "page" if platform == "fb" else "instagram", own, messaging=[event]
    )


def ig_comment_webhook(
    comment_id: str,
    text: str,
    *,
    author_id: str = "7001",
    username: str = "warga_kotabaru",
    media_id: str = "18000000001",
    parent_id: str | None = None,
) -> dict[str, Any]:
    """An Instagram ``comments`` change."""
    value: dict[str, Any] = {
        "from": {"id": author_id, "username": username},
        "media": {"id": media_id, "media_product_type": "FEED"},
        "id": comment_id,
        "text": text,
    }
    if parent_id:
        value["parent_id"] = parent_id
    return _envelope(
        "instagram", IG_ID, changes=[{"field": "comments", "value": value}]
    )


def ig_mention_webhook(media_id: str, comment_id: str | None = None) -> dict[str, Any]:
    """An Instagram ``mentions`` change (ids only; the text is looked up)."""
    value = {"media_id": media_id}
    if comment_id:
        value["comment_id"] = comment_id
    return _envelope(
        "instagram", IG_ID, changes=[{"field": "mentions", "value": value}]
    )


def _envelope(obj: str, account: str, **parts: Any) -> dict[str, Any]:
    return {
        "object": obj,
        "entry": [{"id": account, "time": int(time.time()), **parts}],
    }


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, str]:
    """The body Meta would POST and its ``X-Hub-Signature-256``."""
    return whatsapp_signed(payload, secret)


def channel_settings(api_base_url: str, spool: str, **extra: Any) -> dict[str, Any]:
    """The YAML mapping of a Meta channel on the emulator."""
    return {
        "type": "meta",
        "name": "meta",
        "page_id": PAGE_ID,
        "instagram_account_id": IG_ID,
        "page_access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "api_base_url": api_base_url,
        "spool_directory": spool,
        "catch_up_interval": 0,
        **extra,
    }
