"""A local emulator of the X API v2 endpoints Dengar reads, for tests.

Real HTTP on 127.0.0.1 (stdlib ``ThreadingHTTPServer`` in a thread), so the
real tweepy client is exercised end to end. Responses follow the official
shapes (see ``tests/fixtures/x/``): ``data``, ``includes.users/places/media/
tweets``, ``meta.newest_id/oldest_id/result_count/next_token``, an empty page
without ``data``, partial ``errors`` in a 200, ``x-rate-limit-*`` headers on
every response (always on a 429, as the real API does).

Like the real API, only ``id``, ``text`` and ``edit_history_tweet_ids`` are
returned unless more ``tweet.fields`` are asked for, and ``includes`` only
holds what ``expansions`` asked for: a client that forgets a field notices.

Endpoints: ``GET /2/users/by/username/:username``, ``GET /2/users/:id/mentions``
(``pagination_token``), ``GET /2/tweets/search/recent`` (``next_token``),
``GET /2/tweets/:id``, ``POST /2/tweets`` (user context, for replies).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER_FIELDS = ("id", "name", "username")
DEFAULT_PLACE_FIELDS = ("id", "full_name")
DEFAULT_MEDIA_FIELDS = ("media_key", "type")


def not_found(resource: str, parameter: str, value: str) -> dict[str, Any]:
    """An X API v2 "resource-not-found" problem, as in a partial response."""
    noun = "ids" if parameter == "ids" else parameter
    return {
        "value": value,
        "detail": f"Could not find {resource} with {noun}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


@dataclass
class Fault:
    """A canned failure for requests whose path contains ``path_part``."""

    path_part: str
    status: int
    times: int = 1
    reset_in: int = 900
    body: Any = None
    skip: int = 0  # let this many matching requests through first


@dataclass
class XApiEmulator:
    """State of the emulated X: users, posts, faults, and a log of requests."""

    bearer_token: str = "test-bearer-token"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    # problems added to every 200 timeline/lookup response (partial errors)
    extra_errors: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    # the real API may send fewer posts than max_results; a cap makes pages
    page_cap: int | None = None
    _next_id: int = 1_600_000_000_000_000_000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # post ids in ascending order: a timeline request reads only its page
    # (the real API is indexed too; a scan of every post made a long load
    # run's X channel fall behind on the emulator, not on Dengar)
    _ids: list[int] = field(default_factory=list)

    # -- building the world ---------------------------------------------------

    def add_user(self, username: str, name: str | None = None, **extra: Any) -> str:
        """Register an account; returns its id."""
        user_id = str(extra.pop("id", 2_244_994_945 + len(self.users)))
        self.users[user_id] = {
            "id": user_id,
            "name": name or username,
            "username": username,
            "created_at": "2013-12-14T04:35:55.000Z",
            "verified": False,
            **extra,
        }
        return user_id

    def add_place(self, place_id: str, full_name: str, bbox: list[float]) -> None:
        """A place, shaped like the official ``place.fields`` example."""
        self.places[place_id] = {
            "id": place_id,
            "full_name": full_name,
            "name": full_name.split(",")[0],
            "country": "Indonesia",
            "country_code": "ID",
            "place_type": "city",
            "geo": {"type": "Feature", "bbox": bbox, "properties": {}},
        }

    def add_media(self, media_key: str, kind: str = "photo") -> None:
        """A media object; photos have ``url``, videos ``preview_image_url``."""
        item: dict[str, Any] = {
            "media_key": media_key,
            "type": kind,
            "width": 1200,
            "height": 800,
        }
        if kind == "photo":
            item["url"] = f"https://pbs.twimg.com/media/{media_key}.jpg"
        else:
            item["preview_image_url"] = f"https://pbs.twimg.com/ext/{media_key}.jpg"
        self.media[media_key] = item
        return None

    def post(
        self,
        author_id: str,
        text: str,
        *,
        tweet_id: str | None = None,
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
        place_id: str | None = None,
        coordinates: tuple[float, float] | None = None,
        media_keys: tuple[str, ...] = (),
        lang: str = "in",
        created_at: str | None = None,
        **extra: Any,
    ) -> str:
        """Publish a post; ``@username`` in ``text`` makes it a mention."""
        with self._lock:
            self._next_id += 1000
            new_id = tweet_id or str(self._next_id)
        tweet: dict[str, Any] = {
            "id": new_id,
            "text": text,
            "edit_history_tweet_ids": [new_id],
            "author_id": author_id,
            "created_at": created_at
            or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "conversation_id": new_id,
            "lang": lang,
            "possibly_sensitive": False,
        }
        refs = []
        if reply_to is not None:
            parent = self.tweets[reply_to]
            refs.append({"type": "replied_to", "id": reply_to})
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
        if quote_of is not None:
            refs.append({"type": "quoted", "id": quote_of})
        if retweet_of is not None:
            refs.append({"type": "retweeted", "id": retweet_of})
        if refs:
            tweet["referenced_tweets"] = refs
        mentions = [
            {"start": m.start(), "end": m.end(), "username": m.group(1)}
            for m in re.finditer(r"@(\w+)", text)
        ]
        hashtags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in re.finditer(r"#(\w+)", text)
        ]
        entities: dict[str, Any] = {}
        if mentions:
            entities["mentions"] = mentions
        if hashtags:
            entities["hashtags"] = hashtags
        if entities:
            tweet["entities"] = entities
        geo: dict[str, Any] = {}
        if place_id is not None:
            geo["place_id"] = place_id
        if coordinates is not None:
            lon, lat = coordinates
            geo["coordinates"] = {"type": "Point", "coordinates": [lon, lat]}
        if geo:
            tweet["geo"] = geo
        if media_keys:
            tweet["attachments"] = {"media_keys": list(media_keys)}
        tweet.update(extra)
        with self._lock:
            self.tweets[new_id] = tweet
            bisect.insort(self._ids, int(new_id))
        return new_id

    def delete(self, tweet_id: str) -> None:
        """The author deleted the post: it disappears from every endpoint."""
        self.deleted.add(tweet_id)

    def fail(self, path_part: str, status: int, times: int = 1, **kw: Any) -> None:
        """The next ``times`` requests whose path contains ``path_part`` fail."""
        self.faults.append(Fault(path_part, status, times, **kw))

    def calls(self, path_part: str) -> list[dict[str, str]]:
        """Query parameters of the requests made to paths containing a part."""
        return [q for _m, p, q in self.requests if path_part in p]

    # -- answering ------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], auth: str, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one request."""
        self.requests.append((method, path, query))
        headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "449",
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }
        for fault in self.faults:
            if fault.path_part in path and fault.times > 0:
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return self._fault(fault, headers)
        if method == "POST" and path == "/2/tweets":
            if not auth.startswith("OAuth "):
                return 403, headers, _problem(403, "Forbidden", "needs user context")
            parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            if parent is not None and (
                parent in self.deleted or parent not in self.tweets
            ):
                detail = (
                    "You attempted to reply to a Tweet that is deleted or not "
                    "visible to you."
                )
                return 403, headers, _problem(403, "Forbidden", detail)
            # the access token is the first account's (the government's)
            author = next(iter(self.users))
            new_id = self.post(author, body.get("text", ""), reply_to=parent)
            self.posted.append(body)
            edit = [new_id]
            data = {
                "id": new_id,
                "text": body.get("text"),
                "edit_history_tweet_ids": edit,
            }
            return 201, headers, {"data": data}
        if auth != f"Bearer {self.bearer_token}":
            return 401, headers, _problem(401, "Unauthorized", "Unauthorized")
        if m := re.fullmatch(r"/2/users/by/username/(\w+)", path):
            return 200, headers, self._user_by_username(m.group(1), query)
        if m := re.fullmatch(r"/2/users/(\d+)/mentions", path):
            user = self.users.get(m.group(1))
            name = user["username"].lower() if user else "\0"
            return self._timeline(
                lambda t: name in _mentioned(t), query, "pagination_token", (5, 100)
            )
        if path == "/2/tweets/search/recent":
            if "query" not in query:
                return 400, headers, _problem(400, "Invalid Request", "query missing")
            words = query["query"]
            return self._timeline(
                lambda t: _matches(t, words), query, "next_token", (10, 100)
            )
        if m := re.fullmatch(r"/2/tweets/(\d+)", path):
            return 200, headers, self._lookup(m.group(1), query)
        return 404, headers, _problem(404, "Not Found Error", f"no route {path}")

    def _fault(
        self, fault: Fault, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        if fault.status == 429:
            headers["x-rate-limit-remaining"] = "0"
            headers["x-rate-limit-reset"] = str(int(time.time()) + fault.reset_in)
            body = fault.body or {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            }
        elif fault.status == 401:
            body = fault.body or _problem(401, "Unauthorized", "Unauthorized")
        elif fault.status == 403:
            body = fault.body or _problem(
                403,
                "Client Forbidden",
                "This request must be made using an approved developer account.",
            )
        else:
            body = fault.body or _problem(
                fault.status, "Service Unavailable", "Service Unavailable"
            )
        return fault.status, headers, body

    def _user_by_username(self, username: str, query: dict[str, str]) -> Any:
        for user in self.users.values():
            if user["username"].lower() == username.lower():
                return {"data": _pick(user, query, "user.fields", DEFAULT_USER_FIELDS)}
        return {"errors": [not_found("user", "username", username)]}

    def _timeline(
        self,
        wanted: Callable[[dict[str, Any]], bool],
        query: dict[str, str],
        token_name: str,
        bounds: tuple[int, int],
    ) -> tuple[int, dict[str, str], Any]:
        """A page of the live posts ``wanted`` (newest first) between
        ``since_id`` and ``until_id``, after the page ``token_name`` ends."""
        headers = {"x-rate-limit-reset": str(int(time.time()) + 900)}
        size = int(query.get("max_results", 10))
        if not bounds[0] <= size <= bounds[1]:
            detail = f"The `max_results` query parameter value [{size}] is not between {bounds[0]} and {bounds[1]}"  # noqa: E501
            return 400, headers, _problem(400, "Invalid Request", detail)
        since = int(query.get("since_id", 0))
        until = int(query.get("until_id", 1 << 64))
        if token := query.get(token_name):
            # the token is the id of the last post served: pages stay stable
            # while new posts arrive, as on the real API
            until = min(until, int(token.removeprefix("tok")))
        if self.page_cap is not None:
            size = min(size, self.page_cap)
        found: list[dict[str, Any]] = []  # one more than the page: is there more?
        with self._lock:  # post() adds from the test's thread
            at = bisect.bisect_left(self._ids, until)
            first = bisect.bisect_right(self._ids, since)
            while at > first and len(found) <= size:
                at -= 1
                tweet_id = str(self._ids[at])
                tweet = self.tweets[tweet_id]
                if tweet_id not in self.deleted and wanted(tweet):
                    found.append(tweet)
        page, rest = found[:size], found[size:]
        if not page:
            return 200, headers, {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if rest:
            meta["next_token"] = f"tok{page[-1]['id']}"
        body = self._with_includes(page, query)
        body["meta"] = meta
        return 200, headers, body

    def _lookup(self, tweet_id: str, query: dict[str, str]) -> Any:
        if tweet_id in self.deleted or tweet_id not in self.tweets:
            return {"errors": [not_found("tweet", "id", tweet_id)]}
        body = self._with_includes([self.tweets[tweet_id]], query)
        body["data"] = body["data"][0]
        return body

    def _with_includes(
        self, page: list[dict[str, Any]], query: dict[str, str]
    ) -> dict[str, Any]:
        expansions = set(filter(None, query.get("expansions", "").split(",")))
        includes: dict[str, list[dict[str, Any]]] = {}
        errors: list[dict[str, Any]] = list(self.extra_errors)

        def include(kind: str, obj: dict[str, Any], key: str, fields: str) -> None:
            defaults = {
                "users": DEFAULT_USER_FIELDS,
                "places": DEFAULT_PLACE_FIELDS,
                "media": DEFAULT_MEDIA_FIELDS,
                "tweets": DEFAULT_TWEET_FIELDS,
            }[kind]
            bucket = includes.setdefault(kind, [])
            if all(o.get(key) != obj[key] for o in bucket):
                bucket.append(_pick(obj, query, fields, defaults))

        for tweet in page:
            if "author_id" in expansions and tweet["author_id"] in self.users:
                include("users", self.users[tweet["author_id"]], "id", "user.fields")
            place_id = tweet.get("geo", {}).get("place_id")
            if "geo.place_id" in expansions and place_id in self.places:
                include("places", self.places[place_id], "id", "place.fields")
            if "attachments.media_keys" in expansions:
                for key in tweet.get("attachments", {}).get("media_keys", []):
                    include("media", self.media[key], "media_key", "media.fields")
            if "referenced_tweets.id" in expansions:
                for ref in tweet.get("referenced_tweets", []):
                    if ref["id"] in self.tweets and ref["id"] not in self.deleted:
                        include("tweets", self.tweets[ref["id"]], "id", "tweet.fields")
                    else:
                        errors.append(
                            not_found("tweet", "referenced_tweets.id", ref["id"])
                        )
        body: dict[str, Any] = {
            "data": [
                _pick(t, query, "tweet.fields", DEFAULT_TWEET_FIELDS) for t in page
            ]
        }
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return body


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _pick(
    obj: dict[str, Any], query: dict[str, str], name: str, defaults: tuple[str, ...]
) -> dict[str, Any]:
    wanted = set(defaults) | set(filter(None, query.get(name, "").split(",")))
    return {k: v for k, v in obj.items() if k in wanted}


def _mentioned(tweet: dict[str, Any]) -> set[str]:
    mentions = tweet.get("entities", {}).get("mentions", [])
    return {m["username"].lower() for m in mentions}


def _is_retweet(tweet: dict[str, Any]) -> bool:
    return any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", []))


def _matches(tweet: dict[str, Any], query: str) -> bool:
    """A small subset of the search operators: words, #tags, @names,
    ``-is:retweet`` / ``is:retweet`` / ``-word``, all ANDed."""
    text = tweet["text"].lower()
    for term in query.lower().split():
        negate = term.startswith("-")
        term = term.removeprefix("-")
        hit = _is_retweet(tweet) if term == "is:retweet" else term in text
        if hit == negate:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    emulator: XApiEmulator

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output clean

    def _answer(self, method: str) -> None:
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, headers, payload = self.emulator.handle(
            method, parsed.path, query, self.headers.get("Authorization", ""), body
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


@contextlib.contextmanager
def running_x_api(emulator: XApiEmulator | None = None) -> Iterator[XApiEmulator]:
    """Serve ``emulator`` on a free loopback port for the ``with`` block."""
    emulator = emulator or XApiEmulator()
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    emulator.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(name="x_api")
def x_api_fixture() -> Iterator[XApiEmulator]:
    """A running X API emulator with the government account ``PemkabKotabaru``."""
    with running_x_api() as emulator:
        emulator.add_user("PemkabKotabaru", "Pemkab Kotabaru", id="1500000001")
        yield emulator
