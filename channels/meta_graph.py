"""What every Graph API client of Dengar shares (WhatsApp, Page and
Instagram): one JSON call with the token in the Authorization header, and
Meta's error JSON mapped to what the runner and the outbox do about it.

Errors come as ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. The token travels only in the header, never in a URL,
so no error text can carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as _json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

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


class GraphHttp:
    """The connection pool of one token (aiohttp; the token goes as the
    bearer of every call).

    aiohttp rather than httpx: every acknowledgement is a Graph API call,
    and httpx's pool spends several times aiohttp's CPU per call (the
    WhatsApp bench showed it as the largest part of a message's CPU, as
    ``bench.telegram_request`` had for the Bot API). An aiohttp session
    belongs to the event loop that made it, so it is opened on first use
    in the running loop (again in a new loop, as tests run several)."""

    def __init__(self, token: str, connections: int = 100) -> None:
        self._headers = {"Authorization": f"Bearer {token}"}
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return "GraphHttp()"  # never the token

    def session(self) -> aiohttp.ClientSession:
        """The open session of the running loop."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=self._connections),
                # httpx's 30 s per read and 10 s to connect, as before
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=30.0, sock_connect=10.0, sock_read=30.0
                ),
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session (only from the loop that opened it)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its loop is gone
                await session.close()


def http_client(token: str) -> GraphHttp:
    """A connection pool that sends ``token`` as the bearer."""
    return GraphHttp(token)


async def graph_json(
    http: GraphHttp,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One call; the JSON object it answered, or ``GraphError``."""
    query = {k: str(v) for k, v in params.items()} if params else None
    try:
        async with http.session().request(
            method, url, json=json, params=query
        ) as response:
            status = response.status
            retry = response.headers.get("Retry-After")
            data = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise GraphError(f"Graph API unreachable: {type(exc).__name__}") from None
    try:
        body = _json.loads(data)
    except (ValueError, RecursionError):
        body = None
    if status < 300 and isinstance(body, dict):
        return body
    raise graph_error(status, body, retry)


def graph_error(status: int, body: object, retry: str | None = None) -> GraphError:
    """The ``GraphError`` of a failed answer (HTTP ``status``, its JSON
    ``body`` and its ``Retry-After`` header)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) else 0
    raw_sub = error.get("error_subcode")
    subcode = raw_sub if isinstance(raw_sub, int) else 0
    message = str(error.get("message") or f"HTTP {status}")[:300]
    retry_after = float(retry) if retry and retry.isdigit() else None
    return GraphError(
        f"Graph API error {code}: {message}",
        code=code,
        http_status=status,
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
    http: GraphHttp, url: str, limit: int, size: int | None = None
) -> Download:
    """The file at ``url`` (Meta's media or CDN address), at most ``limit``
    bytes; gone or too large comes back with a reason, a passing failure
    raises ``GraphError``. ``size``: what Meta said the file has."""
    data = bytearray()
    try:
        # encoded=True: Meta's signed CDN address is fetched as given
        async with http.session().get(URL(url, encoded=True)) as response:
            if response.status in (400, 403, 404, 410):
                return Download(None, f"unavailable: HTTP {response.status}")
            if response.status >= 300:
                raise GraphError(
                    f"media download answered {response.status}",
                    http_status=response.status,
                )
            async for chunk in response.content.iter_chunked(64 * 1024):
                data.extend(chunk)
                if len(data) > limit:
                    return Download(None, "too_large", size)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise GraphError(f"media download failed: {type(exc).__name__}") from None
    return Download(bytes(data), size=len(data))
