"""X (Twitter): mentions of the government's accounts and recent search.

tweepy's sync ``Client`` (app-only bearer token, ``return_type=dict``) runs in
``asyncio.to_thread``. The adapter never sleeps: a 429 becomes
``RetriableChannelError(retry_after=<seconds to x-rate-limit-reset>)`` and the
runner waits without holding up other channels.

Cursor: JSON ``{"mentions:<user id>": since_id, "search:<query>": since_id}``.
A source's ``since_id`` becomes the first page's ``meta.newest_id`` only once
every page after the old ``since_id`` was read. When ``max_posts_per_poll``
(or the runner's ``limit``) cuts a poll short, the source's value is
``{"since_id": old, "until_id": <oldest post handed over>, "newest_id": …}``
and the next fetch reads on below ``until_id``; nothing is skipped, and a
crash mid-pagination only makes the runner read the same pages again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
import tweepy
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from channels.x_posts import (
    EXPANSIONS,
    MEDIA_FIELDS,
    PLACE_FIELDS,
    TWEET_FIELDS,
    USER_FIELDS,
    Includes,
    InvalidPost,
    PostBatch,
    load_cursor,
    parse_post_url,
    post_to_message,
    public_reply_text,
    skip_reason,
    source_state,
)
from config.channel_settings import XChannelSettings
from contracts.channel import FetchResult
from contracts.errors import (
    FatalChannelError,
    NotReplayable,
    RecipientUnreachable,
    ReplyRetriable,
    RetriableChannelError,
)
from contracts.records import InboundMessage, OutgoingReply

log = logging.getLogger(__name__)

TWEEPY_HOST = "https://api.twitter.com"
_UNREACHABLE = re.compile(r"deleted|not visible|not allowed|blocked", re.IGNORECASE)
REQUEST_TIMEOUT = 30.0
_FIELDS: dict[str, Any] = {
    "tweet_fields": list(TWEET_FIELDS),
    "expansions": list(EXPANSIONS),
    "user_fields": list(USER_FIELDS),
    "place_fields": list(PLACE_FIELDS),
    "media_fields": list(MEDIA_FIELDS),
}
Json = dict[str, Any]


class XPostUnavailable(LookupError):
    """The post asked for by URL is deleted, withheld or not visible."""


class _Redact(logging.Filter):
    """tweepy logs request headers at DEBUG, bearer token included."""

    _BEARER = re.compile(r"Bearer [^'\"\s,}]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer " in message:
            record.msg, record.args = self._BEARER.sub("Bearer ***", message), ()
        return True


_tweepy_log = logging.getLogger("tweepy.client")
if not any(isinstance(f, _Redact) for f in _tweepy_log.filters):
    _tweepy_log.addFilter(_Redact())


class _ApiAdapter(HTTPAdapter):
    """Sends tweepy's requests to ``base_url`` (gateway, emulator) with a
    timeout; tweepy itself sets none, so a stalled server would hang a poll."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        if request.url and request.url.startswith(TWEEPY_HOST):
            request.url = self.base_url + request.url[len(TWEEPY_HOST) :]
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class XChannel:
    """Posts that mention the configured accounts or match the searches."""

    def __init__(self, settings: XChannelSettings) -> None:
        self.name = settings.name
        self.settings = settings
        secret = settings.bearer_token.get_secret_value()

        def _opt(value: Any) -> str | None:
            return None if value is None else str(value.get_secret_value())

        self.client = tweepy.Client(
            bearer_token=secret,
            consumer_key=_opt(settings.consumer_key),
            consumer_secret=_opt(settings.consumer_secret),
            access_token=_opt(settings.access_token),
            access_token_secret=_opt(settings.access_token_secret),
            return_type=dict,
            wait_on_rate_limit=False,
        )
        self.client.session.mount(
            TWEEPY_HOST, _ApiAdapter(settings.api_base_url, REQUEST_TIMEOUT)
        )
        self._user_ids: dict[str, str] = {}
        if settings.reply:
            # only then is this channel a Replier (the app looks for the method)
            self.send_reply = self._send_reply

    def __repr__(self) -> str:
        return (
            f"XChannel(name={self.name!r}, mentions_of={self.settings.mentions_of!r}, "
            f"search={self.settings.search!r})"
        )

    @staticmethod
    def replay(
        settings: XChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The post rebuilt from its stored JSON: ``{"data": post,
        "includes": …}`` as handed over, or a bare post
        (``contracts.channel.ReplaysRaw``)."""
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise NotReplayable(f"stored bytes are not JSON: {exc}") from None
        tweet, includes = document, Includes()
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            tweet, includes = document["data"], Includes.of(document)
        try:
            item = post_to_message(settings.name, tweet, includes, source="replay")
        except InvalidPost as exc:
            raise NotReplayable(f"still unreadable: {exc}") from None
        return FetchResult(items=[item], cursor=None)

    # -- protocol ------------------------------------------------------------

    async def check(self) -> None:
        """Resolve the ``mentions_of`` accounts, which proves the token; with
        searches only, one smallest search (10 posts of quota) does."""
        await asyncio.to_thread(self._check)

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """New posts of every source after ``cursor``, at most ``limit`` and
        ``max_posts_per_poll`` in all."""
        return await asyncio.to_thread(self._fetch, cursor, limit)

    async def after_commit(self, result: FetchResult) -> None:
        """Nothing to mark at X: reading a post changes nothing there."""

    async def close(self) -> None:
        """Close the HTTP session."""
        self.client.session.close()

    async def fetch_post_by_url(self, url: str) -> InboundMessage:
        """The post at an ``x.com``/``twitter.com`` URL, for ``dengar import``.

        Raises ``ValueError`` for a URL that is not a post, ``XPostUnavailable``
        when the post is deleted, withheld or hidden, and channel errors as
        ``fetch`` does.
        """
        tweet_id = parse_post_url(url)
        return await asyncio.to_thread(self._fetch_one, tweet_id)

    async def _send_reply(self, reply: OutgoingReply) -> str | None:
        """Answer the citizen's post in public: the tracking number and where
        to continue privately, never the reply text (it may hold personal
        data). Returns ``x:<id>`` of our post so answers to it thread."""
        target = (reply.in_reply_to or "").removeprefix("x:")
        if not target.isdigit():
            raise RecipientUnreachable(
                f"no X post to answer for {reply.tracking_no or 'this reply'}"
            )
        text = public_reply_text(reply.tracking_no, self.settings.reply_contact)
        try:
            body = await asyncio.to_thread(
                self._call,
                f"reply to post {target}",
                self.client.create_tweet,
                text=text,
                in_reply_to_tweet_id=target,
                user_auth=True,
            )
        except RetriableChannelError as exc:
            raise ReplyRetriable(str(exc), exc.retry_after) from None
        except FatalChannelError as exc:
            # the post is gone, its author limits replies or blocked us: this
            # citizen cannot be answered; any other refusal is ours to fix
            if _UNREACHABLE.search(str(exc)):
                raise RecipientUnreachable(str(exc)) from None
            raise ReplyRetriable(str(exc)) from None
        data = body.get("data") or {}
        return f"x:{data['id']}" if "id" in data else None

    # -- work in the thread ----------------------------------------------------

    def _call(self, what: str, method: Callable[..., Any], *a: Any, **kw: Any) -> Json:
        try:
            body = method(*a, **kw)
        except tweepy.TooManyRequests as exc:
            retry_after = None
            if exc.reset_time is not None:
                retry_after = max(1.0, exc.reset_time - time.time())
            raise RetriableChannelError(
                f"X rate limit reached for {what}; resets in {retry_after or 0:.0f} s",
                retry_after=retry_after,
            ) from None
        except tweepy.Unauthorized:
            raise FatalChannelError(
                f"X rejected the credentials (401 Unauthorized) for {what}; "
                "check bearer_token (or, for replies, the user-context keys)"
            ) from None
        except tweepy.Forbidden as exc:
            raise FatalChannelError(
                f"X refused {what} (403 Forbidden): {_messages(exc)}; "
                "the app's access level may not include this endpoint"
            ) from None
        except (tweepy.BadRequest, tweepy.NotFound) as exc:
            status = exc.response.status_code
            raise FatalChannelError(
                f"X rejected {what} ({status}): {_messages(exc)}"
            ) from None
        except tweepy.TwitterServerError as exc:
            raise RetriableChannelError(
                f"X server error for {what} ({exc.response.status_code})"
            ) from None
        except (tweepy.HTTPException, requests.RequestException) as exc:
            raise RetriableChannelError(
                f"X unreachable for {what}: {type(exc).__name__}"
            ) from None
        if not isinstance(body, dict):
            raise RetriableChannelError(f"X sent a non-object body for {what}")
        return body

    def _check(self) -> None:
        for username in self.settings.mentions_of:
            self._resolve(username)
        if not self.settings.mentions_of:
            query = self.settings.search[0]
            self._call(
                f"search {query!r}",
                self.client.search_recent_tweets,
                query,
                max_results=10,
            )

    def _resolve(self, username: str) -> str:
        key = username.lstrip("@").lower()
        if key not in self._user_ids:
            body = self._call(f"user lookup @{key}", self.client.get_user, username=key)
            data = body.get("data")
            if not isinstance(data, dict) or "id" not in data:
                raise FatalChannelError(
                    f"X account @{key} in mentions_of was not found: {_detail(body)}"
                )
            self._user_ids[key] = str(data["id"])
        return self._user_ids[key]

    def _fetch(self, cursor: str | None, limit: int) -> FetchResult:
        state = load_cursor(cursor)
        budget = min(limit, self.settings.max_posts_per_poll)
        out = PostBatch(
            self.name,
            self._user_ids.values(),
            include_retweets=self.settings.include_retweets,
        )
        for kind, target in self._sources():
            if budget <= len(out.items) + out.skipped + len(out.rejected):
                out.more = True
                break
            if kind == "mentions":
                key = f"mentions:{self._resolve(target)}"
            else:
                key = f"search:{target}"
            left = budget - (len(out.items) + out.skipped + len(out.rejected))
            state[key] = self._poll(kind, target, key, state.get(key), left, out)
        return FetchResult(
            items=out.items,
            cursor=json.dumps(state, sort_keys=True),
            rejected=out.rejected,
            more=out.more,
            skipped=out.skipped,
        )

    def _sources(self) -> list[tuple[str, str]]:
        found = [("mentions", u) for u in self.settings.mentions_of]
        return found + [("search", q) for q in self.settings.search]

    def _poll(
        self, kind: str, target: str, key: str, value: Any, budget: int, out: PostBatch
    ) -> Any:
        """Read pages of one source; return its next cursor value."""
        since, until, newest = source_state(key, value)
        token: str | None = None
        seen = 0
        first = len(out.items)  # where this source's items begin
        while True:
            smallest = 5 if kind == "mentions" else 10
            params: Json = {
                "max_results": min(100, max(smallest, budget - seen)),
                "since_id": since,
                "until_id": until,
                **_FIELDS,
            }
            if kind == "mentions":
                user_id = key.split(":", 1)[1]
                what = f"mentions of @{target}"
                body = self._call(
                    what,
                    self.client.get_users_mentions,
                    user_id,
                    pagination_token=token,
                    **params,
                )
            else:
                query = target
                if not self.settings.include_retweets and "is:retweet" not in query:
                    query = f"{query} -is:retweet"
                what = f"search {target!r}"
                body = self._call(
                    what,
                    self.client.search_recent_tweets,
                    query,
                    next_token=token,
                    **params,
                )
            meta = body.get("meta") or {}
            if newest is None and token is None:
                newest = meta.get("newest_id")
            _log_partial(what, body)
            posts = body.get("data") or []
            room = budget - seen
            taken = out.take(posts[:room], Includes.of(body), kind)
            seen += len(taken)
            token = meta.get("next_token")
            cut = len(posts) > room or (token and seen >= budget)
            if cut and taken:
                out.more = True
                until = out.hold_back_orphans(first, since, taken[-1])
                return {"since_id": since, "until_id": until, "newest_id": newest}
            if cut or not token:
                break
        return newest or since

    def _fetch_one(self, tweet_id: str) -> InboundMessage:
        body = self._call(
            f"post {tweet_id}", self.client.get_tweet, tweet_id, **_FIELDS
        )
        tweet = body.get("data")
        if not isinstance(tweet, dict):
            raise XPostUnavailable(
                f"X post {tweet_id} is deleted or not visible: {_detail(body)}"
            )
        if skip_reason(tweet, include_retweets=True) == "withheld":
            raise XPostUnavailable(f"X post {tweet_id} is withheld")
        try:
            return post_to_message(
                self.name,
                tweet,
                Includes.of(body),
                source="import",
                own_user_ids=self._user_ids.values(),
            )
        except InvalidPost as exc:
            raise XPostUnavailable(f"X post {tweet_id} is malformed: {exc}") from None


def _log_partial(what: str, body: Json) -> None:
    for error in body.get("errors") or []:
        if not isinstance(error, dict):
            continue
        log.warning(
            "X partial error for %s: %s (%s)",
            what,
            error.get("detail") or error.get("message"),
            error.get("type") or error.get("title"),
        )


def _detail(body: Json) -> str:
    errors = body.get("errors") or []
    details = [
        str(e.get("detail") or e.get("title")) for e in errors if isinstance(e, dict)
    ]
    return "; ".join(details) or "no data in the response"


def _messages(exc: tweepy.HTTPException) -> str:
    return "; ".join(str(m) for m in exc.api_messages) or exc.response.reason or "?"
