"""The shared channel contract (tests/contract/channels.py), run against
WhatsApp and Meta (Page and Instagram: webhooks and the catch-up read, on
the Graph API emulators), Maildir and Telegram (on the Bot API emulator)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.maildir import MaildirChannel
from channels.meta.channel import MetaChannel
from channels.meta.webhook import MetaWebhook
from channels.telegram.channel import TelegramChannel
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.webhook import WhatsAppWebhook
from config.channel_settings import (
    MaildirChannelSettings,
    MetaChannelSettings,
    TelegramChannelSettings,
    WhatsAppChannelSettings,
)
from contracts.channel import Channel
from tests.contract.channels import ChannelContract
from tests.fakes.meta_api import APP_SECRET as META_APP_SECRET
from tests.fakes.meta_api import TOKEN as META_TOKEN
from tests.fakes.meta_api import VERIFY_TOKEN as META_VERIFY_TOKEN
from tests.fakes.meta_api import FakeMetaApi, page_feed_webhook
from tests.fakes.meta_api import channel_settings as meta_channel_settings
from tests.fakes.meta_api import signed as meta_signed
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


class MetaWebhookSource:
    """Comments pushed as signed Page webhooks into the spool."""

    secrets = (META_TOKEN, META_APP_SECRET, META_VERIFY_TOKEN)

    def __init__(self, api: FakeMetaApi, spool: Path, **extra: Any) -> None:
        self.api = api
        self.settings = MetaChannelSettings.model_validate(
            meta_channel_settings(api.base_url, str(spool), **extra)
        )
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        hook = MetaWebhook(self.settings, [self.settings])
        for _ in range(count):
            body, signature = meta_signed(
                page_feed_webhook(f"5001_{next(self._ids)}", "Jalan berlubang")
            )
            answer = hook.receive(body, {"x-hub-signature-256": signature})
            assert answer.status == 200

    def channel(self) -> Channel:
        return MetaChannel(self.settings)

    async def break_source(self) -> None:
        self.api.token = "a-revoked-token"


class TestMetaWebhookContract(ChannelContract):
    """Facebook Page and Instagram: the webhook spool."""

    @pytest.fixture
    async def source(self, tmp_path: Path) -> AsyncIterator[MetaWebhookSource]:
        async with FakeMetaApi().running() as api:
            yield MetaWebhookSource(api, tmp_path / "spool")


class MetaCatchUpSource(MetaWebhookSource):
    """Comments the webhooks never brought, found by the Graph API read."""

    def __init__(self, api: FakeMetaApi, spool: Path) -> None:
        super().__init__(api, spool, catch_up_interval=0.001)
        self.post = api.add_post("fb")

    async def add(self, count: int) -> None:
        for _ in range(count):
            self.api.add_comment(self.post, f"isi {next(self._ids)}")


class TestMetaCatchUpContract(ChannelContract):
    """Facebook Page and Instagram: the catch-up read and its cursor."""

    @pytest.fixture
    async def source(self, tmp_path: Path) -> AsyncIterator[MetaCatchUpSource]:
        async with FakeMetaApi().running() as api:
            yield MetaCatchUpSource(api, tmp_path / "spool")


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
