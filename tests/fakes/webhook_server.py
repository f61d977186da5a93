"""A local HTTP receiver for the webhook sink that fails on demand.

Runs a real aiohttp server on 127.0.0.1. Every request is recorded with its
exact body and headers. Answers come from a script: ``fail_next(500, 3)``
makes the next three requests answer 500, ``delay_next(2.0)`` stalls one;
after the script it answers 200. With ``secret`` set it checks the
signature like a real consumer would and answers 401 when it is wrong, and it
remembers event ids so a re-send is seen as a duplicate.

    async with WebhookServer(secret="s3cret") as server:
        server.fail_next(503, times=2, headers={"Retry-After": "7"})
        ... sink.deliver(...) against server.url ...
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dispatcher.sinks.webhook import SIGNATURE_HEADER, verify_signature
from tests.services import free_port


@dataclass
class Planned:
    """One scripted answer."""

    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class WebhookServer:
    """A webhook consumer to test against; see the module docstring."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/dengar"
        self.requests: list[Received] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests handled at one time
        self.accepted_ids: list[str] = []  # first acceptance of each event id
        self.duplicates: list[str] = []
        self._plan: deque[Planned] = deque()
        self._runner: web.AppRunner | None = None

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: str = "gagal",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status``."""
        for _ in range(times):
            self._plan.append(Planned(status, body, dict(headers or {})))

    def delay_next(self, seconds: float, status: int = 200) -> None:
        """Stall the next request ``seconds`` before answering."""
        self._plan.append(Planned(status=status, delay=seconds))

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        planned = self._plan.popleft() if self._plan else Planned()
        if planned.delay:
            await asyncio.sleep(planned.delay)
        status = planned.status
        text = planned.body
        if status == 200 and self.secret is not None:
            if not verify_signature(
                self.secret, body, request.headers.get(SIGNATURE_HEADER)
            ):
                status, text = 401, "bad signature"
            else:
                event_id = json.loads(body)["id"]
                if event_id in self.accepted_ids:
                    self.duplicates.append(event_id)
                else:
                    self.accepted_ids.append(event_id)
        self.requests.append(
            Received(request.path, dict(request.headers), body, status)
        )
        return web.Response(status=status, text=text, headers=planned.headers)

    async def start(self) -> None:
        """Listen on 127.0.0.1:``port``."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
