"""PTB's requests over aiohttp: what reaches the server, and what a failure
tells PTB (and the log) — never the token in the URL."""

from __future__ import annotations

import asyncio
import io
import socket

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from channels.telegram.aiohttp_backend import AiohttpRequest

TOKEN = "987654:SECRET-token_value"


class Server:
    """A stand-in Bot API that records each request's form and can stall."""

    def __init__(self) -> None:
        self.forms: list[dict[str, object]] = []
        self.stall = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.forms.append(
            {
                k: (v.file.read() if isinstance(v, web.FileField) else v)
                for k, v in form.items()
            }
        )
        if request.path.endswith("/getMe"):
            me = {"id": 987654, "is_bot": True, "first_name": "Dengar"}
            return web.json_response({"ok": True, "result": me})
        await asyncio.sleep(self.stall)
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": 7,
                    "date": 1795834653,
                    "chat": {"id": 42, "type": "private"},
                    "text": "ok",
                },
            }
        )


@pytest.fixture
async def server():
    stub = Server()
    app = web.Application()
    app.router.add_post("/{path:.*}", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stub.url = f"http://127.0.0.1:{port}/bot"
    yield stub
    await runner.cleanup()


def bot(url: str, **timeouts: float) -> Bot:
    return Bot(
        TOKEN,
        base_url=url,
        request=AiohttpRequest(**timeouts),
        get_updates_request=AiohttpRequest(),
    )


async def test_a_message_is_sent_as_the_form_fields_ptb_gives(server):
    async with bot(server.url) as b:
        sent = await b.send_message(42, "Laporan ADU-7K3M-9Q2D diterima")
    assert sent.message_id == 7
    text = "Laporan ADU-7K3M-9Q2D diterima"
    assert server.forms[-1] == {"chat_id": "42", "text": text}


async def test_an_upload_goes_as_multipart_with_its_file(server):
    async with bot(server.url) as b:
        await b.send_document(42, io.BytesIO(b"%PDF-1.4 bukti"), filename="bukti.pdf")
    assert server.forms[-1]["document"] == b"%PDF-1.4 bukti"
    assert server.forms[-1]["chat_id"] == "42"


async def test_a_server_that_does_not_answer_is_a_timeout(server):
    server.stall = 1.5
    async with bot(server.url, read_timeout=0.2) as b:
        with pytest.raises(TimedOut, match="did not answer in time"):
            await b.send_message(42, "x")


async def test_an_unreachable_api_is_a_network_error_without_the_token():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as info:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage")
    finally:
        await request.shutdown()
    assert "aiohttp.ClientConnectorError" in str(info.value)
    assert TOKEN.split(":")[1] not in str(info.value)


async def test_it_can_be_opened_again_after_shutdown(server):
    request = AiohttpRequest()
    for _ in range(2):
        await request.initialize()
        result = await request.post(f"{server.url}{TOKEN}/getMe")
        await request.shutdown()
        assert isinstance(result, dict)
        assert result["is_bot"] is True
    assert len(server.forms) == 2


async def test_replies_queued_for_a_busy_pool_wait_for_a_connection(server):
    # the outbox hands a whole batch over at once: more replies than
    # connections, each answered slowly, must all go out, none time out
    server.stall = 0.15
    async with bot(server.url, connection_pool_size=1) as b:
        sent = await asyncio.gather(
            *(b.send_message(42, f"ack {n}") for n in range(12))
        )
    assert len(sent) == 12
    assert len(server.forms) == 12 + 1  # and getMe
