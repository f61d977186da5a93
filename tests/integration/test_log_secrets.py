"""``dengar -vv``: no secret in any log line, whichever library writes it.

The whole installation runs at DEBUG against the emulators (Telegram bot
with a photo and the acknowledgement, X search, a signed webhook sink with
user:password in its URL, the Telegram webhook with its secret token), every
log record of every logger is captured as a handler formats it, and the
capture is searched for each configured secret value.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from channels.telegram.channel import TelegramChannel
from config.channel_settings import TelegramChannelSettings
from config.redaction import MASKER, mask_record
from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from dengar.web.app import create_app
from dispatcher.status_inbox import consume_once
from storage.tables import OutboxRow, utcnow
from tests.fakes.agency_http import AgencySystem
from tests.fakes.dovecot import running_dovecot
from tests.fakes.smtp import running_smtp
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.fakes.webhook_server import WebhookServer
from tests.fakes.x_api import x_api_fixture  # noqa: F401
from tests.integration.test_sink_http import example_agency

BEARER = "test-bearer-token"
SINK_SECRET = "sink-hmac-Secret-42"
SINK_PASSWORD = "pa55-in-the-url"
WEBHOOK_SECRET = "s3cret-Token-for-the-webhook"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted as ``dengar -vv``
    prints it (with tracebacks)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


def _assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} is in the log"


async def test_a_debug_run_of_every_channel_logs_no_secret(
    api, x_api, debug_log, tmp_path
):
    citizen = x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")
    x_api.post(citizen, "#KotabaruMendengar lampu jalan mati")
    photo = api.add_file(b"\xff\xd8 foto jalan")
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    await api.push_message(42, photo=[{**photo, "width": 800, "height": 600}])
    async with WebhookServer(secret=SINK_SECRET) as sink:
        url = sink.url.replace("://", f"://dengar:{SINK_PASSWORD}@", 1)
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
                "agencies": [
                    {
                        "code": "PUPR",
                        "name": "Dinas PUPR",
                        "sink": {"type": "webhook", "url": url, "secret": SINK_SECRET},
                    }
                ],
                "routing": {"default_agency": "PUPR"},
                "channels": [
                    {
                        "type": "telegram",
                        "name": "bot",
                        "token": TOKEN,
                        "api_base_url": api.base_url,
                        "long_poll_timeout": 0,
                        # the case must reach the webhook sink in this run
                        "confirmation_window": 0,
                    },
                    {
                        "type": "x",
                        "name": "x",
                        "bearer_token": BEARER,
                        "search": ["#KotabaruMendengar"],
                        "api_base_url": x_api.url,
                    },
                ],
            }
        )
        app = App.open(settings)
        try:
            runner = Runner(app)
            await runner.run_once()
            await runner.run_once()  # deliveries and acknowledgements
        finally:
            await app.close()
    text = debug_log.getvalue()
    # the libraries did log at DEBUG (else the test proves nothing)
    assert "Calling Bot API endpoint" in text
    assert "Making API request" in text  # tweepy prints its headers
    assert sink.requests, "the sink was called"
    _assert_no_secret(
        text, TOKEN, TOKEN.split(":")[1], BEARER, SINK_SECRET, SINK_PASSWORD
    )


async def test_the_telegram_webhook_secret_is_not_logged(api, debug_log, tmp_path):
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "web": {"secret_key": "test-secret", "cookie_secure": False},
            "channels": [
                {
                    "type": "telegram",
                    "name": "tg",
                    "token": TOKEN,
                    "api_base_url": api.base_url,
                    "mode": "webhook",
                    "webhook_url": "https://pengaduan.example.go.id/webhooks/telegram/tg",
                    "secret_token": WEBHOOK_SECRET,
                    "spool_directory": str(tmp_path / "spool"),
                    "long_poll_timeout": 0,
                }
            ],
        }
    )
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    tg = settings.channel("tg")
    assert isinstance(tg, TelegramChannelSettings)
    channel = TelegramChannel(tg)
    try:
        await channel.check()  # setWebhook with the secret
        update = {"update_id": 5, "message": api.make_message(42, "jalan rusak")}
        for secret in (WEBHOOK_SECRET[:-1], WEBHOOK_SECRET):  # a guess, then ours
            answer = client.post(
                "/webhooks/telegram/tg",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
        assert answer.status_code == 200
        result = await channel.fetch(None, 100)
        assert len(result.items) == 1
        await channel.after_commit(result)
    finally:
        await channel.close()
        client.close()
        web_app.engine.dispose()
    text = debug_log.getvalue()
    assert "setWebhook" in text
    _assert_no_secret(text, TOKEN, WEBHOOK_SECRET, WEBHOOK_SECRET[:-1])


IMAP_PASSWORD = "imap-Pa55word-of-the-mailbox"
SMTP_PASSWORD = "smtp-Pa55word-for-replies"


@pytest.mark.dovecot
async def test_a_debug_run_of_imap_with_smtp_replies_logs_no_password(
    debug_log, tmp_path
):
    with (
        running_dovecot(password=IMAP_PASSWORD) as dovecot,
        running_smtp(user="dengar", password=SMTP_PASSWORD) as smtp,
    ):
        client = dovecot.client("pengaduan")
        mail = EmailMessage()
        mail["From"] = "Budi <budi@warga.example>"
        mail["To"] = "pengaduan@kab.example.go.id"
        mail["Subject"] = "Lampu jalan mati"
        mail["Message-ID"] = "<lampu-1@warga.example>"
        mail.set_content("Lampu jalan di Jl. Veteran mati sejak seminggu.")
        client.append("INBOX", mail.as_bytes())
        client.logout()
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
                "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
                "routing": {"default_agency": "PUPR"},
                "channels": [
                    {
                        "name": "surel",
                        "type": "imap",
                        "host": dovecot.host,
                        "port": dovecot.port,
                        "security": "none",
                        "username": "pengaduan",
                        "password": IMAP_PASSWORD,
                        "idle": False,
                        "message_id_domain": "dengar.kab.example.go.id",
                        "smtp": {
                            "host": smtp.host,
                            "port": smtp.port,
                            "security": "none",
                            "username": "dengar",
                            "password": SMTP_PASSWORD,
                            "from_address": "pengaduan@kab.example.go.id",
                        },
                    }
                ],
            }
        )
        app = App.open(settings)
        try:
            runner = Runner(app)
            await runner.run_once()
            await runner.run_once()
        finally:
            await app.close()
        assert smtp.sink.received, "the acknowledgement was sent"
    text = debug_log.getvalue()
    assert "imapclient" in text  # imapclient's protocol log was on
    _assert_no_secret(text, IMAP_PASSWORD, SMTP_PASSWORD)


def _record(msg: object, *args: object, exc: BaseException | None = None):
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("x", logging.DEBUG, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize(
    ("msg", "args", "hidden"),
    [
        ("GET %s", ("https://api.telegram.org/bot123456:AAH-x_y/getMe",), "AAH-x_y"),
        ("GET https://h/file/bot123456:AAH-x_y/photos/1.jpg", (), "AAH-x_y"),
        ("token %s", ("7777777:" + "k" * 35,), "k" * 35),
        ("connect %s", ("amqp://guest:hunter22@localhost/",), "hunter22"),
        ("headers %r", ({"Authorization": "Bearer abc.def-123"},), "abc.def-123"),
        ("> b'0001 LOGIN user %s'", ("configured-Pa55word",), "configured-Pa55word"),
    ],
)
def test_secret_shapes_and_values_are_masked_in_message_and_arguments(
    msg, args, hidden
):
    MASKER.add(["configured-Pa55word"])
    record = _record(msg, *args)
    mask_record(record)
    assert hidden not in logging.Formatter().format(record)


def test_tracebacks_are_masked_and_numbers_still_format():
    MASKER.add(["configured-Pa55word"])
    try:
        raise ValueError("login failed for configured-Pa55word")
    except ValueError as exc:
        record = _record("failed after %d tries (%.1f s)", 3, 1.5, exc=exc)
    mask_record(record)
    text = logging.Formatter().format(record)
    assert "failed after 3 tries (1.5 s)" in text
    assert "ValueError" in text
    assert "configured-Pa55word" not in text


def test_a_template_naming_a_credential_still_formats_masked():
    record = _record("login as %s password=%s token: %s", "budi", "hunter22x", "abc")
    mask_record(record)
    text = logging.Formatter().format(record)
    assert text == "login as budi password=*** token: ***"


def test_clean_records_keep_their_arguments_for_formatters_that_read_them():
    # uvicorn's access formatter unpacks record.args as a 5-tuple
    args = ("127.0.0.1:5000", "GET", "/?page=2", "1.1", 200)
    record = _record('%s - "%s %s HTTP/%s" %d', *args)
    mask_record(record)
    assert record.args == args
    MASKER.add(["hook-Secret-in-a-path"])
    args = ("127.0.0.1:5000", "POST", "/tg/hook-Secret-in-a-path", "1.1", 200)
    record = _record('%s - "%s %s HTTP/%s" %d', *args)
    mask_record(record)
    assert record.args == ("127.0.0.1:5000", "POST", "/tg/***", "1.1", 200)


async def test_a_debug_run_of_an_http_sink_logs_no_credential(api, debug_log, tmp_path):
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    async with AgencySystem() as system:
        agency = example_agency("json-rest", system)
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
                "agencies": [agency],
                "routing": {"default_agency": "PUPR"},
                "channels": [
                    {
                        "type": "telegram",
                        "name": "bot",
                        "token": TOKEN,
                        "api_base_url": api.base_url,
                        "long_poll_timeout": 0,
                        "confirmation_window": 0,
                    }
                ],
            }
        )
        app = App.open(settings)
        try:
            system.fail_next(503)  # the first delivery fails and is logged
            runner = Runner(app)
            await runner.run_once()
            with app.sessions() as session:  # its retry is due now
                session.execute(update(OutboxRow).values(next_attempt_at=utcnow()))
                session.commit()
            await runner.run_once()
            system.fail_next(500)  # the status read fails and is logged
            await consume_once(app, agency)
        finally:
            await app.close()
    assert system.tickets, "the case reached the agency's system"
    text = debug_log.getvalue()
    assert "could not be read" in text
    _assert_no_secret(text, TOKEN, system.token)
