"""python-telegram-bot's networking on aiohttp instead of httpx.

PTB lets a program bring its own HTTP backend by subclassing
:class:`telegram.request.BaseRequest` (its documented extension point; the
PTB team keep an aiohttp one in ptbcontrib, which is not on PyPI). Dengar
sends one acknowledgement per complaint, so the client's CPU per request
bounds how many Telegram complaints one worker takes in: measured on the
Bot API emulator, httpx spends about three times aiohttp's CPU on a small
``sendMessage`` (``python -m bench.telegram_request`` prints both). Everything above the
HTTP call (retries, flood control, JSON, errors) stays PTB's.

No message raised from here holds a URL: Bot API URLs carry the token.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from config.redaction import redact_urls


class AiohttpRequest(BaseRequest):
    """A :class:`~telegram.request.BaseRequest` on one ``aiohttp.ClientSession``.

    PTB's four timeouts map to aiohttp's: ``connect_timeout`` to
    ``sock_connect``, ``read_timeout`` to ``sock_read``, ``pool_timeout`` to
    ``connect`` (which in aiohttp includes waiting for a free connection);
    aiohttp has no write timeout, so ``write_timeout`` bounds the whole
    request when PTB asks for a longer one (uploads).
    """

    __slots__ = ("_defaults", "_pool_size", "_session")

    def __init__(
        self,
        connection_pool_size: int = 8,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        # the outbox hands a whole batch of replies over at once: they queue
        # for the pool's connections, and a reply must not fail for that
        pool_timeout: float | None = 60.0,
        write_timeout: float | None = 5.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._defaults = {
            "read": read_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
            "write": write_timeout,
        }
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """See :attr:`BaseRequest.read_timeout` (PTB adds it to long polls)."""
        return self._defaults["read"]

    async def initialize(self) -> None:
        """Open the session (again, after :meth:`shutdown`), in the running
        loop: an aiohttp session belongs to the loop that made it."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See :meth:`BaseRequest.do_request`."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        d = self._defaults
        write = _given(write_timeout, d["write"])
        timeout = aiohttp.ClientTimeout(
            # only uploads pass a write timeout above the default: let the
            # whole request take that long, as httpx would let the writes
            total=write if write is not None and write > (d["write"] or 0) else None,
            connect=_given(pool_timeout, d["pool"]),
            sock_connect=_given(connect_timeout, d["connect"]),
            sock_read=_given(read_timeout, d["read"]),
        )
        try:
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise TimedOut(
                    "no connection to the Bot API in time (pool or connect timeout)"
                ) from None
            raise TimedOut("the Bot API did not answer in time") from None
        except aiohttp.ClientError as exc:
            # aiohttp's messages can quote the URL, and the URL holds the token
            text = redact_urls(str(exc))
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {text}") from None


def _given(value: Any, default: float | None) -> float | None:
    if value is BaseRequest.DEFAULT_NONE:
        return default
    return float(value) if value is not None else None


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as httpx sends them for PTB: url-encoded, or multipart
    when the request uploads a file."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
