"""What the WhatsApp channel sends, against the Graph API emulator: the
24-hour window from what the queued reply knows (a restart forgets nothing),
the location request, the interactive body limit and the back-off after
Meta's throughput limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.whatsapp.channel import WhatsAppChannel
from config.channel_settings import WhatsAppChannelSettings
from contracts.errors import ReplyRetriable
from contracts.records import OutgoingReply
from tests.fakes.whatsapp_api import FakeWhatsAppApi, channel_settings

USER = "ID.1234567890123456789"
PROMPT = "Di mana lokasi masalah yang Anda laporkan?"


@pytest.fixture
async def api() -> AsyncIterator[FakeWhatsAppApi]:
    async with FakeWhatsAppApi().running() as fake:
        fake.approve_template("pengaduan_diterima", "id")
        fake.citizen_wrote(USER)
        yield fake


@pytest.fixture
async def channel(
    api: FakeWhatsAppApi, tmp_path: Path
) -> AsyncIterator[WhatsAppChannel]:
    """A channel just started: it has read no message of anybody."""
    settings = WhatsAppChannelSettings.model_validate(
        channel_settings(
            api.base_url,
            str(tmp_path),
            templates={"acknowledgement": {"name": "pengaduan_diterima"}},
        )
    )
    started = WhatsAppChannel(settings)
    yield started
    await started.close()


def reply(hours_ago: float | None = 1, **fields: Any) -> OutgoingReply:
    wrote = None
    if hours_ago is not None:
        wrote = datetime.now(UTC) - timedelta(hours=hours_ago)
    values: dict[str, Any] = {
        "channel": "wa",
        "recipient": USER,
        "text": "Pengaduan Anda telah kami terima.",
        "tracking_no": "ADU-7K3M-9Q2D",
        "idempotency_key": "wa:ack:ADU-7K3M-9Q2D",
        "citizen_wrote_at": wrote,
    }
    values.update(fields)
    return OutgoingReply(**values)


async def test_the_window_comes_with_the_reply_so_a_restart_keeps_it(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    await channel.send_reply(reply(hours_ago=23))
    await channel.send_reply(reply(hours_ago=25))
    await channel.send_reply(reply(hours_ago=None))
    assert [s["type"] for s in api.sent] == ["text", "template", "template"]


async def test_a_reply_meta_refused_for_the_closed_window_goes_as_template(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    await channel.send_reply(reply(hours_ago=0.1, window_closed=True))
    [sent] = api.sent
    assert sent["template"]["name"] == "pengaduan_diterima"


async def test_where_is_it_is_asked_with_a_location_button(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    choices = (("Biasa", "biasa ADU-7K3M-9Q2D"), ("Anonim", "anonim ADU-7K3M-9Q2D"))
    await channel.send_reply(reply(choices=choices, location_prompt=PROMPT))
    buttons, where = api.sent
    assert buttons["interactive"]["type"] == "button"
    assert where["type"] == "interactive"
    assert where["interactive"] == {
        "type": "location_request_message",
        "body": {"text": PROMPT},
        "action": {"name": "send_location"},
    }
    # a template cannot carry the button: nothing is asked outside the window
    await channel.send_reply(reply(hours_ago=30, location_prompt=PROMPT))
    assert api.sent[2]["type"] == "template"
    assert len(api.sent) == 3


async def test_an_ack_without_choices_asks_where_in_the_same_message(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    # no reply buttons to offer: the acknowledgement is the location
    # request's body, so the citizen gets one message with the button
    remote = await channel.send_reply(reply(location_prompt=PROMPT))
    [sent] = api.sent
    assert remote == f"wa:{sent['id']}"
    assert sent["interactive"]["type"] == "location_request_message"
    assert sent["interactive"]["body"]["text"] == (
        f"Pengaduan Anda telah kami terima.\n\n{PROMPT}"
    )
    # too long together for an interactive body: the text, then the request
    api.sent.clear()
    long_text = "jalan rusak " * 90  # 1,080 bytes
    await channel.send_reply(reply(text=long_text, location_prompt=PROMPT))
    text, where = api.sent
    assert text["text"]["body"] == long_text
    assert where["interactive"]["body"]["text"] == PROMPT


async def test_interactive_bodies_stay_within_1024_bytes(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    # 720 characters, but 1,200 bytes: too long for an interactive body
    text = "\u2022\u2022\u2022 jalan rusak " * 48
    assert len(text) <= 1024 < len(text.encode())
    choices = (("Anonim", "anonim ADU-7K3M-9Q2D"),)
    await channel.send_reply(
        reply(text=text, choices=choices, location_prompt="\u00e9" * 1000)
    )
    first, buttons, where = api.sent
    assert first["text"]["body"] == text
    for message in (buttons, where):
        assert len(message["interactive"]["body"]["text"].encode()) <= 1024


async def test_after_a_throughput_limit_the_number_holds_back(
    api: FakeWhatsAppApi, channel: WhatsAppChannel
) -> None:
    api.fail("messages", 130429, "Rate limit hit")
    with pytest.raises(ReplyRetriable) as first:
        await channel.send_reply(reply())
    assert first.value.retry_after is not None
    assert first.value.retry_after >= 1
    posts = [c for c in api.calls if c[0] == "POST"]
    # the next citizen's reply waits too instead of hitting Meta again
    api.citizen_wrote("ID.42")
    with pytest.raises(ReplyRetriable, match="rate limit") as second:
        await channel.send_reply(reply(recipient="ID.42"))
    assert second.value.retry_after is not None
    assert 0 < second.value.retry_after <= first.value.retry_after
    assert [c for c in api.calls if c[0] == "POST"] == posts
