"""What every Graph API client of Dengar shares (WhatsApp, Page and
Instagram): one JSON call with the token in the Authorization header, and
Meta's error JSON mapped to what the runner and the outbox do about it.

Errors come as ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. The token travels only in the header, never in a URL,
so no error text can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from contracts.errors import FatalChannelError, RetriableChannelError

# codes from Meta's Graph API and Cloud API error references
INVALID_TOKEN = {190}
# 4 app, 17 user, 32 Page, 613 call-rate limits; 80007 and 13xxxx WhatsApp's
RATE_LIMITED = {4, 17, 32, 613, 80007, 130429, 131048, 131056}


class GraphError(Exception):
    """A Graph API call failed; ``code`` is Meta's error code (0: no answer)."""

    def __init__(
        self,
        message: str,
        code: int = 0,
        http_status: int = 0,
        retry_after: float | None = None,
        subcode: int = 0,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
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


def http_client(token: str) -> httpx.AsyncClient:
    """A connection pool that sends ``token`` as the bearer."""
    return httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30.0, connect=10.0),
    )


async def graph_json(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> dict[str, Any]:
    """One call; the JSON object it answered, or ``GraphError``."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise GraphError(f"Graph API unreachable: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 300 and isinstance(body, dict):
        return body
    raise graph_error(response, body)


def graph_error(response: httpx.Response, body: object) -> GraphError:
    """The ``GraphError`` of a failed answer."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) else 0
    raw_sub = error.get("error_subcode")
    subcode = raw_sub if isinstance(raw_sub, int) else 0
    message = str(error.get("message") or f"HTTP {response.status_code}")[:300]
    retry = response.headers.get("Retry-After")
    retry_after = float(retry) if retry and retry.isdigit() else None
    return GraphError(
        f"Graph API error {code}: {message}",
        code=code,
        http_status=response.status_code,
        retry_after=retry_after,
        subcode=subcode,
    )


def channel_error(service: str, exc: GraphError) -> Exception:
    """What a failed read means to the runner: a refused token stops the
    channel, anything else is tried again later."""
    if exc.token_rejected:
        return FatalChannelError(f"{service} rejected the access token ({exc})")
    return RetriableChannelError(f"{service}: {exc}", exc.retry_after)


@dataclass(frozen=True, slots=True)
class Download:
    """A downloaded file, or why it was not."""

    data: bytes | None
    reason: str = ""
    size: int | None = None  # as Meta reported it, when known


async def download_capped(
    http: httpx.AsyncClient, url: str, limit: int, size: int | None = None
) -> Download:
    """The file at ``url`` (Meta's media or CDN address), at most ``limit``
    bytes; gone or too large comes back with a reason, a passing failure
    raises ``GraphError``. ``size``: what Meta said the file has."""
    data = bytearray()
    try:
        async with http.stream("GET", url) as response:
            if response.status_code in (400, 403, 404, 410):
                return Download(None, f"unavailable: HTTP {response.status_code}")
            if response.status_code >= 300:
                raise GraphError(
                    f"media download answered {response.status_code}",
                    http_status=response.status_code,
                )
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    return Download(None, "too_large", size)
    except httpx.HTTPError as exc:
        raise GraphError(f"media download failed: {type(exc).__name__}") from None
    return Download(bytes(data), size=len(data))
