"""The few Graph API calls the channel makes (httpx), and Meta's errors
mapped to what the runner and the outbox do about them.

Errors come as ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. The access token travels only in the Authorization
header, never in a URL, so no error text can carry it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

# codes from Meta's Cloud API error reference
INVALID_TOKEN = {190}
RATE_LIMITED = {4, 80007, 130429, 131048, 131056}
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


class GraphError(Exception):
    """A Graph API call failed; ``code`` is Meta's error code (0: no answer)."""

    def __init__(
        self,
        message: str,
        code: int = 0,
        http_status: int = 0,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def rate_limited(self) -> bool:
        """Meta asks us to slow down."""
        return self.code in RATE_LIMITED or self.http_status == 429

    @property
    def token_rejected(self) -> bool:
        """The access token is invalid or expired."""
        return self.code in INVALID_TOKEN or self.http_status == 401


@dataclass(frozen=True, slots=True)
class Download:
    """A downloaded media file, or why it was not."""

    data: bytes | None
    reason: str = ""
    size: int | None = None  # as Meta reported it, when known


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
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30.0, connect=10.0),
        )

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
        data = bytearray()
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code in (400, 403, 404):
                    return Download(None, f"unavailable: HTTP {response.status_code}")
                if response.status_code >= 300:
                    raise GraphError(
                        f"media download answered {response.status_code}",
                        http_status=response.status_code,
                    )
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > limit:
                        return Download(
                            None, "too_large", size if isinstance(size, int) else None
                        )
        except httpx.HTTPError as exc:
            raise GraphError(f"media download failed: {type(exc).__name__}") from None
        if isinstance(expected, str) and hashlib.sha256(data).hexdigest() != expected:
            return Download(None, "unavailable: sha256 mismatch")
        return Download(bytes(data))

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise GraphError(f"Graph API unreachable: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 300 and isinstance(body, dict):
            return body
        raise _error(response, body)


def _error(response: httpx.Response, body: object) -> GraphError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) else 0
    message = str(error.get("message") or f"HTTP {response.status_code}")[:300]
    retry = response.headers.get("Retry-After")
    retry_after = float(retry) if retry and retry.isdigit() else None
    return GraphError(
        f"Graph API error {code}: {message}",
        code=code,
        http_status=response.status_code,
        retry_after=retry_after,
    )
