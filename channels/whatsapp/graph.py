"""The few Graph API calls the channel makes (aiohttp); the call itself,
Meta's errors and the capped download are shared with the Meta channel
(``channels.meta_graph``)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from channels.meta_graph import (
    Download,
    GraphError,
    download_capped,
    graph_json,
    http_client,
)

__all__ = ["WINDOW_CLOSED", "Download", "GraphClient", "GraphError"]

# the limits of the whole number or app (not of one recipient, 131056):
# no message of this number is tried until the back-off has passed
NUMBER_LIMITED = {4, 80007, 130429}
MAX_BACKOFF = 60.0
WINDOW_CLOSED = 131047
UNREACHABLE = {131026, 131030, 131049, 131050}
# of the number's throughput (80 messages/s by default, 1,000 once Meta
# upgraded it) we use this share: network jitter cannot bunch a second's
# worth plus one into Meta's second
SEND_SHARE = 0.9


class GraphClient:
    """Calls for one business number."""

    def __init__(
        self,
        base_url: str,
        version: str,
        phone_number_id: str,
        token: str,
        messages_per_second: int = 80,
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._phone = phone_number_id
        self._gap = 1.0 / (messages_per_second * SEND_SHARE)
        self._next_slot = 0.0
        self._pace = asyncio.Lock()
        self._paused_until = 0.0  # time.monotonic() after a rate limit
        self._backoff = 0.0
        self._http = http_client(token)

    def __repr__(self) -> str:
        return f"GraphClient(base={self._base!r}, phone_number_id={self._phone!r})"

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def phone_number(self) -> dict[str, Any]:
        """The business number's own record (a cheap credentials check)."""
        return await self._json("GET", f"{self._base}/{self._phone}")

    async def send(self, payload: dict[str, Any]) -> str:
        """POST a message; returns its wamid. Sends are spaced so that the
        number stays within its messages per second (Meta answers 130429
        above it); after Meta's 130429 none is tried for a while (1 s,
        doubling while it repeats, up to a minute)."""
        waiting = self._paused_until - time.monotonic()
        if waiting > 0:
            raise GraphError(
                "holding back after WhatsApp's rate limit",
                code=130429,
                retry_after=waiting,
            )
        await self._throttle()
        try:
            answer = await self._json(
                "POST",
                f"{self._base}/{self._phone}/messages",
                json={"messaging_product": "whatsapp", **payload},
            )
        except GraphError as exc:
            if exc.code in NUMBER_LIMITED:
                self._backoff = min(MAX_BACKOFF, max(1.0, self._backoff * 2))
                exc.retry_after = exc.retry_after or self._backoff
                self._paused_until = time.monotonic() + exc.retry_after
            raise
        self._backoff = 0.0
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise GraphError("send answered without a message id") from None

    async def _throttle(self) -> None:
        # evenly spaced rather than bursts of a second's worth: a burst of
        # new connections then fast reused ones would reach Meta bunched
        async with self._pace:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._gap
        if slot > now:
            await asyncio.sleep(slot - now)

    async def download(self, media_id: str, limit: int, sha256: str | None) -> Download:
        """Fetch a media file at once (its URL is valid for minutes).

        A file over ``limit``, gone, or whose bytes do not match its
        sha256 comes back with a reason; a passing failure raises.
        """
        try:
            info = await self._json("GET", f"{self._base}/{media_id}")
        except GraphError as exc:
            # 100 (subcode 33): the id is unknown or expired (30 days)
            if exc.code == 100 or exc.http_status == 404:
                return Download(None, f"unavailable: {exc}")
            raise
        size = info.get("file_size")
        if isinstance(size, int) and size > limit:
            return Download(None, "too_large", size)
        url = info.get("url")
        if not isinstance(url, str):
            return Download(None, "unavailable: no download URL")
        expected = sha256 or info.get("sha256")
        got = await download_capped(
            self._http, url, limit, size if isinstance(size, int) else None
        )
        if got.data is None:
            return got
        data = got.data
        if isinstance(expected, str) and hashlib.sha256(data).hexdigest() != expected:
            return Download(None, "unavailable: sha256 mismatch")
        return Download(data)

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        return await graph_json(self._http, method, url, **kwargs)
