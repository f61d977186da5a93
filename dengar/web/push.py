"""The one mount point of every push channel: ``/webhooks/<type>/<name>``.

The receiver finds the configured channel, reads the body up to the
channel's cap (413 beyond it, before anything is stored or parsed) and
hands the raw bytes to the channel's endpoint (``channels.push``), which
checks the signature, stores the body durably and says what to answer.
Sessions, CSRF and logins do not apply: the signature is the credential.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from channels.push import PushEndpoint, push_endpoint
from dengar.web.deps import WebContext

router = APIRouter(include_in_schema=False)


class _TooLarge(Exception):
    pass


def _endpoint(request: Request, kind: str, name: str) -> PushEndpoint | None:
    ctx: WebContext = request.app.state.web
    settings = ctx.app.settings
    for channel in settings.channels:
        if channel.name == name and channel.type == kind and channel.enabled:
            try:
                return push_endpoint(channel, settings.channels)
            except LookupError:
                return None
    return None


@router.get("/webhooks/{kind}/{name}")
async def handshake(request: Request, kind: str, name: str) -> PlainTextResponse:
    """A subscription check (Meta's ``hub.challenge``)."""
    endpoint = _endpoint(request, kind, name)
    if endpoint is None:
        return PlainTextResponse("no such webhook", 404)
    params = request.query_params
    twice = sorted({k for k in params if len(params.getlist(k)) > 1})
    if twice:
        # which of two tokens counts is no guess to make for an outsider
        return PlainTextResponse(f"{twice[0][:50]} given more than once", 400)
    answer = endpoint.handshake(dict(params))
    return PlainTextResponse(answer.text, answer.status)


@router.post("/webhooks/{kind}/{name}")
async def receive(request: Request, kind: str, name: str) -> PlainTextResponse:
    """A pushed item: capped, handed over raw, answered once stored."""
    endpoint = _endpoint(request, kind, name)
    if endpoint is None:
        return PlainTextResponse("no such webhook", 404)
    limit = endpoint.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return PlainTextResponse(f"body over {limit} bytes", 413)
    try:
        body = await _read_capped(request, limit)
    except _TooLarge:
        return PlainTextResponse(f"body over {limit} bytes", 413)
    # the endpoint writes and fsyncs: not on the event loop
    answer = await asyncio.to_thread(endpoint.receive, body, _headers(request))
    return PlainTextResponse(answer.text, answer.status)


def _headers(request: Request) -> dict[str, str]:
    """The headers by lower-case name; a header sent twice reads as its
    values joined (RFC 9110), so two signatures are no valid signature
    rather than the first one winning."""
    headers = request.headers
    return {k: ", ".join(headers.getlist(k)) for k in headers}


async def _read_capped(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise _TooLarge
    return bytes(data)
