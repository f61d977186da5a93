"""Telegram in webhook mode: Telegram's POST to the one web app at
``/webhooks/telegram/<name>`` (secret token, body cap, stored before the
200), the spool read by the channel, the whole of Dengar behind it, and the
real python-telegram-bot client registering the webhook on the Bot API
emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import select

from channels.telegram.channel import TelegramChannel
from config.channel_settings import TelegramChannelSettings
from config.settings import Settings
from dengar.app import App
from dengar.web.app import create_app
from storage.tables import ComplaintRow
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.integration.runs import run_once

SECRET = "s3cret-Token_of-the-hook"
HOOK = "https://pengaduan.example.go.id/webhooks/telegram/tg"


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


def channel_values(api: FakeTelegramApi, tmp_path: Path, **extra: Any) -> dict:
    return {
        "type": "telegram",
        "name": "tg",
        "token": TOKEN,
        "api_base_url": api.base_url,
        "long_poll_timeout": 0,
        "mode": "webhook",
        "webhook_url": HOOK,
        "secret_token": SECRET,
        "spool_directory": str(tmp_path / "spool"),
        **extra,
    }


def settings_for(api: FakeTelegramApi, tmp_path: Path, **extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "web": {"secret_key": "test-secret", "cookie_secure": False},
            "channels": [
                channel_values(api, tmp_path, **extra),
                {
                    "type": "telegram",
                    "name": "polled",
                    "token": TOKEN,
                    "api_base_url": api.base_url,
                    "enabled": False,
                },
            ],
        }
    )


@pytest.fixture
def web(api: FakeTelegramApi, tmp_path: Path) -> Iterator[TestClient]:
    app = App.open(settings_for(api, tmp_path))
    client = TestClient(create_app(app))
    try:
        yield client
    finally:
        client.close()
        app.engine.dispose()


@pytest.fixture
async def channel(api: FakeTelegramApi, tmp_path: Path):
    ch = TelegramChannel(
        TelegramChannelSettings.model_validate(channel_values(api, tmp_path))
    )
    yield ch
    await ch.close()


def post(
    client: TestClient,
    update: dict[str, Any] | bytes,
    secret: str | None = SECRET,
    path: str = "/webhooks/telegram/tg",
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    if isinstance(update, bytes):
        response = client.post(path, content=update, headers=headers)
    else:
        response = client.post(path, json=update, headers=headers)
    return response.status_code, response.text


def spooled(tmp_path: Path, kind: str = "new") -> list[Path]:
    folder = tmp_path / "spool" / "tg" / kind
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def test_the_webhook_is_registered_at_the_public_url_with_its_secret(
    api, channel
):
    await channel.check()
    assert api.webhook_url == HOOK
    [params] = [p for m, p in api.calls if m == "setWebhook"]
    assert params["secret_token"] == SECRET
    assert not [m for m, _p in api.calls if m == "getUpdates"]


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_stored(
    api, web, channel, tmp_path
):
    update = {"update_id": 5, "message": api.make_message(42, "palsu")}
    assert post(web, update, secret="guess")[0] == 401
    assert post(web, update, secret="")[0] == 401
    assert post(web, update, secret=None)[0] == 401
    assert spooled(tmp_path) == []
    assert (await channel.fetch(None, 100)).items == []


async def test_an_update_is_answered_once_stored_and_kept_until_the_commit(
    api, web, channel, tmp_path
):
    update = {"update_id": 6, "message": api.make_message(42, "jalan rusak")}
    own_id = f"msg:42:{update['message']['message_id']}"
    assert post(web, update) == (200, "received")
    assert len(spooled(tmp_path)) == 1

    first = await channel.fetch(None, 100)
    assert [i.text for i in first.items] == ["jalan rusak"]
    assert [i.external_id for i in first.items] == [own_id]
    # the transaction failed: the runner fetches again, and so would a
    # restarted process
    again = await channel.fetch(None, 100)
    assert [i.external_id for i in again.items] == [own_id]
    await channel.after_commit(again)
    assert spooled(tmp_path) == []
    assert (await channel.fetch(None, 100)).items == []

    # Telegram sends it again (it did not see our 200): stored again, and
    # recognised by (channel, external_id) downstream
    assert post(web, update)[0] == 200
    assert post(web, update) == (200, "already received")
    resent = await channel.fetch(None, 100)
    assert [i.external_id for i in resent.items] == [own_id]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (b'{"update_id": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deep"),
        (b"[1, 2, 3]", "an update is a JSON object"),
        (b"not json", "body is not JSON"),
    ],
)
async def test_a_body_that_is_no_update_is_kept_aside_and_answered_400(
    api, web, channel, tmp_path, body, answer
):
    status, text = post(web, body)
    assert status == 400
    assert answer in text
    assert [p.read_bytes() for p in spooled(tmp_path, "rejected")] == [body]
    # the receiver and the channel go on
    update = {"update_id": 9, "message": api.make_message(42, "lampu mati")}
    assert post(web, update)[0] == 200
    result = await channel.fetch(None, 100)
    assert [i.text for i in result.items] == ["lampu mati"]
    assert result.rejected == []


async def test_a_body_over_the_cap_is_refused_before_it_is_stored(api, tmp_path):
    app = App.open(settings_for(api, tmp_path, max_webhook_bytes=2048))
    client = TestClient(create_app(app))
    try:
        update = {"update_id": 7, "message": api.make_message(42, "x" * 4000)}
        status, text = post(client, update)
        assert status == 413
        assert "2048" in text
        assert spooled(tmp_path) == []
    finally:
        client.close()
        app.engine.dispose()


async def test_only_configured_webhook_channels_have_a_route(api, web):
    update = {"update_id": 8, "message": api.make_message(42, "x")}
    assert post(web, update, path="/webhooks/telegram/polled")[0] == 404
    assert post(web, update, path="/webhooks/telegram/nope")[0] == 404
    assert web.get("/webhooks/telegram/tg").status_code == 405


async def test_a_webhook_complaint_becomes_one_case_with_its_acknowledgement(
    api, web, tmp_path
):
    settings = settings_for(api, tmp_path)
    update = {
        "update_id": 11,
        "message": api.make_message(42, "Jalan di Desa Sigam berlubang besar"),
    }
    assert post(web, update)[0] == 200
    await run_once(settings)
    # Telegram sends it again after our 200 (a network hiccup): no new case
    assert post(web, update)[0] == 200
    app = await run_once(settings)
    with app.sessions() as session:
        [case] = session.exec(
            select(ComplaintRow).where(ComplaintRow.kind == "case")
        ).all()
    assert case.channel == "tg"
    [ack] = api.sent
    assert ack.chat_id == 42
    assert case.tracking_no in ack.text
    assert api.webhook_url == HOOK


def test_an_old_webhook_listen_setting_says_what_replaced_it(tmp_path):
    with pytest.raises(ValidationError, match="webhook_listen is gone"):
        TelegramChannelSettings.model_validate(
            {
                "type": "telegram",
                "name": "tg",
                "token": TOKEN,
                "mode": "webhook",
                "webhook_url": HOOK,
                "secret_token": SECRET,
                "webhook_listen": "127.0.0.1:8443",
            }
        )


def test_a_webhook_url_that_misses_the_route_is_refused_at_start():
    with pytest.raises(ValidationError, match="/webhooks/telegram/tg"):
        TelegramChannelSettings.model_validate(
            {
                "type": "telegram",
                "name": "tg",
                "token": TOKEN,
                "mode": "webhook",
                "webhook_url": "https://pengaduan.example.go.id/tg/hook",
                "secret_token": SECRET,
            }
        )
