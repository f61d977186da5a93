"""The few Graph API calls the channel makes (httpx); the call itself and
Meta's errors are shared with the Meta channel (``channels.meta_graph``)."""

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

WINDOW_CLOSED = 131047
UNREACHABLE = {131026, 131030, 131049, 131050}
# Cloud API throughput per business number (default tier), and what we
# send: a margin so that network jitter cannot bunch 81 into Meta's second
MESSAGES_PER_SECOND = 80
SEND_PER_SECOND = 72


class GraphClient:
    """Calls for one business number."""

    def __init__(
        self, base_url: str, version: str, phone_number_id: str, token: str
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._phone = phone_number_id
        self._next_slot = 0.0
        self._pace = asyncio.Lock()
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
        above it)."""
        await self._throttle()
        answer = await self._json(
            "POST",
            f"{self._base}/{self._phone}/messages",
            json={"messaging_product": "whatsapp", **payload},
        )
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
            self._next_slot = slot + 1.0 / SEND_PER_SECOND
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
