"""What the sinks that speak HTTP share (``webhook``, ``http``): the client
session, one request with its timeout, the classification of answers and
failures, and concurrent delivery of a batch.

Answers: 2xx delivered; 408, 429 and 5xx, timeouts and connection errors are
retried (``Retry-After`` honoured); any other status is permanent, with the
status and the first 2 KB of the body kept for the dead-letter view. 3xx is
permanent too: an endpoint that redirects a POST is misconfigured, and
following it would send the case somewhere nobody configured.

Error messages are built from parts (the URL without user info or query,
host, port, reason): the text of some client errors carries the whole URL,
tokens in its query included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from dispatcher.sinks.base import Delivery

DETAIL_LIMIT = 2048
_RETRIABLE_4XX = frozenset({408, 429})
T = TypeVar("T")


def safe_url(url: str) -> str:
    """``url`` without user info or query string, which may hold tokens."""
    parsed = URL(url)
    port = f":{parsed.explicit_port}" if parsed.explicit_port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def retry_after_seconds(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def first_bytes(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The start of an answer, without reading a huge one to the end."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Unreachable(RetriableDeliveryError):
    """The endpoint did not answer at all (refused, timed out)."""


def new_session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    """A client session with as many connections as requests in flight (none
    waits for a connection) and ``timeout`` for each whole request."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": "Dengar"},
        raise_for_status=False,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """What an endpoint answered: status, headers and (the start of) the body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    label: str,
    timeout: float,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    ok_body_limit: int = 0,
) -> Answer:
    """Send one request; :class:`Unreachable` when no answer came.

    The body of a 2xx answer is read up to ``ok_body_limit`` bytes, that of
    any other up to ``DETAIL_LIMIT``. ``label`` starts every error message
    (``webhook https://host/path``) and must hold no secret.
    """
    try:
        async with session.request(
            method, url, data=data, headers=headers, allow_redirects=False
        ) as response:
            ok = 200 <= response.status < 300
            limit = ok_body_limit if ok else DETAIL_LIMIT
            body = await first_bytes(response, limit) if limit else b""
            return Answer(response.status, response.headers, body)
    except TimeoutError:
        raise Unreachable(f"{label}: no answer within {timeout:g}s (timeout)") from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise Unreachable(
            f"{label}: cannot connect to {exc.host}:{exc.port}: {reason}"
        ) from None
    except aiohttp.ClientError as exc:
        raise Unreachable(f"{label}: {type(exc).__name__}") from None


def judge(label: str, answer: Answer) -> None:
    """Return on 2xx; raise the retriable or permanent delivery error the
    answer means otherwise."""
    if answer.ok:
        return
    status = answer.status
    if status >= 500 or status in _RETRIABLE_4XX:
        raise RetriableDeliveryError(
            f"{label} answered {status}",
            retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
        )
    raise PermanentDeliveryError(
        f"{label} refused the case with {status}",
        detail=f"HTTP {status}: {answer.text}",
    )


async def deliver_concurrently(
    deliver: Callable[[Delivery], Awaitable[T]],
    deliveries: Sequence[Delivery],
    concurrency: int,
) -> list[Exception | T]:
    """Run ``deliver`` on each, ``concurrency`` at a time; per delivery its
    result or its error. Once one cannot reach the endpoint (refused, timed
    out) the rest are not tried this round: each would wait the same
    timeout, and the batch would hold the worker for ``len / concurrency``
    timeouts."""
    gate = asyncio.Semaphore(concurrency)
    unreachable: list[RetriableDeliveryError] = []

    async def one(delivery: Delivery) -> Exception | T:
        async with gate:
            if unreachable:
                return RetriableDeliveryError(
                    f"not sent: {unreachable[0]}",
                    retry_after=unreachable[0].retry_after,
                )
            try:
                return await deliver(delivery)
            except Unreachable as exc:
                unreachable.append(exc)
                return exc
            except Exception as exc:  # noqa: BLE001 - each row's own outcome
                return exc

    return list(await asyncio.gather(*(one(d) for d in deliveries)))
