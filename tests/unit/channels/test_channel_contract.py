"""The shared channel contract (tests/contract/channels.py), run against
WhatsApp (on the Graph API emulator), Maildir and Telegram (on the Bot API
emulator)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channels.maildir import MaildirChannel
from channels.telegram.channel import TelegramChannel
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.webhook import WhatsAppWebhook
from config.channel_settings import (
    MaildirChannelSettings,
    TelegramChannelSettings,
    WhatsAppChannelSettings,
)
from contracts.channel import Channel
from tests.contract.channels import ChannelContract
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsAppApi,
    channel_settings,
    message_webhook,
    signed,
)


class WhatsAppSource:
    """Meta pushing signed webhooks into the spool; the emulator behind."""

    secrets = (TOKEN, APP_SECRET, VERIFY_TOKEN)

    def __init__(self, api: FakeWhatsAppApi, spool: Path) -> None:
        self.api = api
        self.settings = WhatsAppChannelSettings.model_validate(
            channel_settings(api.base_url, str(spool))
        )
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        hook = WhatsAppWebhook(self.settings, [self.settings])
        for _ in range(count):
            n = next(self._ids)
            body, signature = signed(
                message_webhook(
                    {"id": f"wamid.C{n}", "type": "text", "text": {"body": f"isi {n}"}}
                )
            )
            answer = hook.receive(body, {"x-hub-signature-256": signature})
            assert answer.status == 200

    def channel(self) -> Channel:
        return WhatsAppChannel(self.settings)

    async def break_source(self) -> None:
        self.api.token = "a-revoked-token"  # Meta no longer accepts ours


class TestWhatsAppContract(ChannelContract):
    """WhatsApp Cloud API."""

    @pytest.fixture
    async def source(self, tmp_path: Path) -> AsyncIterator[WhatsAppSource]:
        async with FakeWhatsAppApi().running() as api:
            yield WhatsAppSource(api, tmp_path / "spool")


class MaildirSource:
    """Files dropped into a Maildir's new/."""

    secrets: tuple[str, ...] = ()

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        for _ in range(count):
            n = next(self._ids)
            path = self.root / "new" / f"{1000 + n}.M{n}.host"
            path.write_bytes(f"Subject: {n}\r\n\r\nisi {n}\r\n".encode())

    def channel(self) -> Channel:
        settings = MaildirChannelSettings(
            type="maildir", name="surat", path=self.root, after_import="move"
        )
        return MaildirChannel(settings)

    async def break_source(self) -> None:
        shutil.rmtree(self.root)


class TestMaildirContract(ChannelContract):
    """Maildir on local disk."""

    @pytest.fixture
    def source(self, tmp_path: Path) -> MaildirSource:
        return MaildirSource(tmp_path / "inbox")


class TelegramSource:
    """Citizens writing to the bot on the Bot API emulator."""

    secrets = (TELEGRAM_TOKEN,)

    def __init__(self, api: FakeTelegramApi) -> None:
        self.api = api
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        for _ in range(count):
            await self.api.push_message(42, f"isi {next(self._ids)}")

    def channel(self) -> Channel:
        settings = TelegramChannelSettings(
            type="telegram",
            name="bot",
            token=TELEGRAM_TOKEN,  # type: ignore[arg-type]
            api_base_url=self.api.base_url,
            long_poll_timeout=0,
        )
        return TelegramChannel(settings)

    async def break_source(self) -> None:
        self.api.token = "999:revoked"  # the bot's token was revoked


class TestTelegramContract(ChannelContract):
    """Telegram bot, long polling."""

    @pytest.fixture
    async def source(self) -> AsyncIterator[TelegramSource]:
        async with FakeTelegramApi().running() as api:
            yield TelegramSource(api)
