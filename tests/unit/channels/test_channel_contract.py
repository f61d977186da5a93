"""The shared channel contract (tests/contract/channels.py), run against
every registered channel: WhatsApp and Meta (Page and Instagram: webhooks
and the catch-up read; on the Graph API emulators), Maildir, Telegram (on
the Bot API emulator), IMAP (on a throwaway Dovecot), X (on the X API
emulator) and the web form (its spool)."""

from __future__ import annotations

import itertools
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import SecretStr

from channels.imap.channel import ImapChannel
from channels.maildir import MaildirChannel
from channels.meta.channel import MetaChannel
from channels.meta.webhook import MetaWebhook
from channels.registry import CHANNEL_TYPES, channel_class
from channels.telegram.channel import TelegramChannel
from channels.telegram.webhook import webhook_of
from channels.webform.channel import WebformChannel, spool_of, store
from channels.webform.submission import StoredFile, Submission
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.webhook import WhatsAppWebhook
from channels.x import XChannel
from config.channel_settings import (
    ChannelSettings,
    ImapChannelSettings,
    MaildirChannelSettings,
    MetaChannelSettings,
    TelegramChannelSettings,
    WebformChannelSettings,
    WhatsAppChannelSettings,
    XChannelSettings,
)
from contracts.channel import Channel, ReplaysRaw
from tests.contract.channels import ChannelContract
from tests.fakes.dovecot import Dovecot, running_dovecot
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
from tests.fakes.x_api import Fault, XApiEmulator, running_x_api
from tests.services import free_port


def test_the_registry_knows_exactly_the_channel_types_of_the_config():
    union = get_args(get_args(ChannelSettings)[0])
    config_types = {
        get_args(model.model_fields["type"].annotation)[0] for model in union
    }
    assert set(CHANNEL_TYPES) == config_types


def test_every_channel_type_runs_the_contract():
    tested = {cls.channel_type for cls in ChannelContract.__subclasses__()}
    assert tested == set(CHANNEL_TYPES)


@pytest.mark.parametrize("type_name", sorted(CHANNEL_TYPES))
def test_every_channel_class_replays_from_raw_bytes(type_name: str):
    assert isinstance(channel_class(type_name), ReplaysRaw)


def _closed_port_url() -> str:
    # nothing listens there: a server that is down
    return f"http://127.0.0.1:{free_port()}"


class GraphSource:
    """What a source on a Graph API emulator does to break: the token
    revoked, or the API not answering."""

    api: FakeWhatsAppApi | FakeMetaApi
    settings: Any

    async def break_for_good(self) -> bool:
        self.api.token = "a-revoked-token"  # Meta no longer accepts ours
        return True

    async def break_for_now(self) -> bool:
        self.settings = self.settings.model_copy(
            update={"api_base_url": _closed_port_url()}
        )
        return True


class WhatsAppSource(GraphSource):
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


class TestWhatsAppContract(ChannelContract):
    """WhatsApp Cloud API."""

    channel_type = "whatsapp"

    @pytest.fixture
    async def source(self, tmp_path: Path) -> AsyncIterator[WhatsAppSource]:
        async with FakeWhatsAppApi().running() as api:
            yield WhatsAppSource(api, tmp_path / "spool")


class MetaWebhookSource(GraphSource):
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


class TestMetaWebhookContract(ChannelContract):
    """Facebook Page and Instagram: the webhook spool."""

    channel_type = "meta"

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

    channel_type = "meta"

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
        self.settings = MaildirChannelSettings(
            type="maildir", name="surat", path=self.root, after_import="move"
        )

    async def add(self, count: int) -> None:
        for _ in range(count):
            n = next(self._ids)
            path = self.root / "new" / f"{1000 + n}.M{n}.host"
            path.write_bytes(f"Subject: {n}\r\n\r\nisi {n}\r\n".encode())

    def channel(self) -> Channel:
        return MaildirChannel(self.settings)

    async def break_for_good(self) -> bool:
        shutil.rmtree(self.root)  # the folder is gone
        return True

    async def break_for_now(self) -> bool:
        return False  # a local folder is there or not


class TestMaildirContract(ChannelContract):
    """Maildir on local disk."""

    channel_type = "maildir"

    @pytest.fixture
    def source(self, tmp_path: Path) -> MaildirSource:
        return MaildirSource(tmp_path / "inbox")


class TelegramSource:
    """Citizens writing to the bot on the Bot API emulator (long polling)."""

    secrets = (TELEGRAM_TOKEN,)

    def __init__(self, api: FakeTelegramApi) -> None:
        self.api = api
        self._ids = itertools.count(1)
        self.settings = TelegramChannelSettings(
            type="telegram",
            name="bot",
            token=TELEGRAM_TOKEN,  # type: ignore[arg-type]
            api_base_url=self.api.base_url,
            long_poll_timeout=0,
        )

    async def add(self, count: int) -> None:
        for _ in range(count):
            await self.api.push_message(42, f"isi {next(self._ids)}")

    def channel(self) -> Channel:
        return TelegramChannel(self.settings)

    async def break_for_good(self) -> bool:
        self.api.token = "999:revoked"  # the bot's token was revoked
        return True

    async def break_for_now(self) -> bool:
        for method in ("getMe", "getUpdates", "deleteWebhook"):
            self.api.fail(method, 502, times=10)  # the Bot API has an outage
        return True


class TestTelegramContract(ChannelContract):
    """Telegram bot, long polling."""

    channel_type = "telegram"

    @pytest.fixture
    async def source(self) -> AsyncIterator[TelegramSource]:
        async with FakeTelegramApi().running() as api:
            yield TelegramSource(api)


WEBHOOK_SECRET = "contract-Secret_of-the-telegram-hook"


class TelegramWebhookSource(TelegramSource):
    """Telegram posting updates to the web app's receiver, which stores them
    in the channel's spool."""

    secrets = (TELEGRAM_TOKEN, WEBHOOK_SECRET)

    def __init__(self, api: FakeTelegramApi, spool: Path) -> None:
        super().__init__(api)
        self.settings = TelegramChannelSettings.model_validate(
            {
                **self.settings.model_dump(),
                "token": TELEGRAM_TOKEN,
                "mode": "webhook",
                "webhook_url": "https://pengaduan.example.go.id/webhooks/telegram/bot",
                "secret_token": WEBHOOK_SECRET,
                "spool_directory": spool,
            }
        )

    async def add(self, count: int) -> None:
        hook = webhook_of(self.settings)
        for _ in range(count):
            n = next(self._ids)
            update = {"update_id": n, "message": self.api.make_message(42, f"isi {n}")}
            body = json.dumps(update).encode()
            answer = hook.receive(
                body, {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET}
            )
            assert answer.status == 200


class TestTelegramWebhookContract(ChannelContract):
    """Telegram bot, webhook mode."""

    channel_type = "telegram"

    @pytest.fixture
    async def source(self, tmp_path: Path) -> AsyncIterator[TelegramWebhookSource]:
        async with FakeTelegramApi().running() as api:
            yield TelegramWebhookSource(api, tmp_path / "spool")


IMAP_PASSWORD = "imap-Pa55word-of-the-contract"


class ImapSource:
    """Mail delivered to a mailbox on a throwaway Dovecot; the channel moves
    what it stored to another folder."""

    secrets = (IMAP_PASSWORD, "a-changed-Pa55word")

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user = f"warga-{uuid.uuid4().hex[:10]}"
        self._ids = itertools.count(1)
        self.settings = ImapChannelSettings(
            type="imap",
            name="surel",
            host=server.host,
            port=server.port,
            security="none",
            username=self.user,
            password=IMAP_PASSWORD,  # type: ignore[arg-type]
            after_import="move:Diterima",
            idle=False,
        )

    async def add(self, count: int) -> None:
        client = self.server.client(self.user)
        try:
            for _ in range(count):
                n = next(self._ids)
                mail = EmailMessage()
                mail["From"] = "Budi <budi@warga.example>"
                mail["To"] = "pengaduan@kab.example.go.id"
                mail["Subject"] = f"Aduan {n}"
                mail["Message-ID"] = f"<aduan-{n}-{self.user}@warga.example>"
                mail.set_content(f"isi {n}")
                client.append("INBOX", mail.as_bytes())  # type: ignore[attr-defined]
        finally:
            client.logout()  # type: ignore[attr-defined]

    def channel(self) -> Channel:
        return ImapChannel(self.settings, wait_seconds=0)

    async def break_for_good(self) -> bool:
        # the mailbox's password was changed
        self.settings = self.settings.model_copy(
            update={"password": SecretStr("a-changed-Pa55word")}
        )
        return True

    async def break_for_now(self) -> bool:
        self.server.stop()  # the mail server is down
        return True


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot(password=IMAP_PASSWORD) as server:
        yield server


@pytest.mark.dovecot
class TestImapContract(ChannelContract):
    """IMAP on Dovecot."""

    channel_type = "imap"

    @pytest.fixture
    def source(self, dovecot: Dovecot) -> Iterator[ImapSource]:
        yield ImapSource(dovecot)
        if dovecot.proc is None:
            dovecot.start()  # taken down by the test: back for the next


GOV = "PemkabKotabaru"
X_TOKEN = "contract-bearer-token-of-x"


class XSource:
    """Citizens mentioning the government's account on the X emulator."""

    secrets = (X_TOKEN,)

    def __init__(self, api: XApiEmulator) -> None:
        self.api = api
        self.citizen = api.add_user("warga_kotabaru", "Siti Warga", id="900001")
        self._ids = itertools.count(1)
        self.settings = XChannelSettings.model_validate(
            {
                "type": "x",
                "name": "x",
                "bearer_token": X_TOKEN,
                "mentions_of": [GOV],
                "api_base_url": api.url,
            }
        )

    async def add(self, count: int) -> None:
        for _ in range(count):
            self.api.post(self.citizen, f"@{GOV} jalan rusak {next(self._ids)}")

    def channel(self) -> Channel:
        return XChannel(self.settings)

    async def break_for_good(self) -> bool:
        self.api.bearer_token = "a-revoked-token"  # the app's token was revoked
        return True

    async def break_for_now(self) -> bool:
        self.api.faults.append(Fault("/2/", 503, times=10))  # X has an outage
        return True


class TestXContract(ChannelContract):
    """X API v2 (mentions)."""

    channel_type = "x"

    @pytest.fixture
    def source(self) -> Iterator[XSource]:
        with running_x_api(XApiEmulator(bearer_token=X_TOKEN)) as api:
            api.add_user(GOV, "Pemkab Kotabaru", id="1500000001")
            yield XSource(api)


def submission(n: int) -> Submission:
    """A checked submission as the web app spools it."""
    return Submission(
        form_id=f"{n:032x}",
        tracking_no=f"ADU-0000-{n:04d}",
        received_at=datetime(2026, 12, 1, 2, 0, n % 60, tzinfo=UTC),
        title=f"Laporan {n}",
        text=f"Jalan rusak nomor {n} di depan pasar.",
        incident_date=date(2026, 11, 30),
        kecamatan="Pulau Laut Utara",
        files=(StoredFile("foto.jpg", "image/jpeg", b"\xff\xd8\xff-bytes"),),
    )


class WebformSource:
    """Citizens sending the form: the web app's spool."""

    secrets: tuple[str, ...] = ()

    def __init__(self, spool: Path) -> None:
        self.settings = WebformChannelSettings(
            type="webform", name="formulir", spool_directory=spool
        )
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        for _ in range(count):
            store(spool_of(self.settings), submission(next(self._ids)))

    def channel(self) -> Channel:
        return WebformChannel(self.settings)

    async def break_for_good(self) -> bool:
        # the spool replaced by a file (a wrong path in the config)
        directory = spool_of(self.settings).directory
        shutil.rmtree(directory)
        directory.write_text("not a directory")
        return True

    async def break_for_now(self) -> bool:
        return False  # a local folder is there or not


class TestWebformContract(ChannelContract):
    """The web form /lapor."""

    channel_type = "webform"

    @pytest.fixture
    def source(self, tmp_path: Path) -> WebformSource:
        return WebformSource(tmp_path / "spool")
