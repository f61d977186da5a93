"""Each channel's policy, read once from its settings: the defaults a
channel gets when its configuration says nothing, and what it may switch on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.channel_settings import (
    SESSION_MINUTES,
    ImapChannelSettings,
    MaildirChannelSettings,
    MetaChannelSettings,
    TelegramChannelSettings,
    WhatsAppChannelSettings,
    XChannelSettings,
    channel_policy,
)
from config.settings import Settings
from contracts.records import InboundMessage, MissingFile, Reporter
from dengar.chat_commands import handle_command


def maildir(**kwargs: object) -> MaildirChannelSettings:
    return MaildirChannelSettings.model_validate(
        {"type": "maildir", "name": "surat", "path": "/srv/mail", **kwargs}
    )


def imap(**kwargs: object) -> ImapChannelSettings:
    return ImapChannelSettings.model_validate(
        {
            "type": "imap",
            "name": "kotak",
            "host": "imap.example",
            "username": "u",
            "password": "p",
            **kwargs,
        }
    )


def telegram(**kwargs: object) -> TelegramChannelSettings:
    return TelegramChannelSettings.model_validate(
        {"type": "telegram", "name": "bot", "token": "1:x", **kwargs}
    )


def x(**kwargs: object) -> XChannelSettings:
    return XChannelSettings.model_validate(
        {"type": "x", "name": "x", "bearer_token": "t", "mentions_of": ["pemkab"]}
        | kwargs
    )


def whatsapp() -> WhatsAppChannelSettings:
    return WhatsAppChannelSettings.model_validate(
        {
            "type": "whatsapp",
            "name": "wa",
            "phone_number_id": "123",
            "access_token": "a",
            "app_secret": "s",
            "verify_token": "v",
        }
    )


def meta(**extra: object) -> MetaChannelSettings:
    return MetaChannelSettings.model_validate(
        {
            "type": "meta",
            "name": "fb",
            "page_id": "42",
            "page_access_token": "p",
            "app_secret": "s",
            "verify_token": "v",
            **extra,
        }
    )


def test_meta_direct_messages_are_chats_and_comments_wait_for_triage() -> None:
    policy = meta().policy()
    assert policy.kind == "meta"
    assert (policy.session_minutes, policy.confirmation_window) == (10, 120)
    assert (policy.triage, policy.auto_dispatch_min_score) == (True, None)
    on = meta(auto_dispatch=True, auto_dispatch_min_score=2.0).policy()
    assert on.auto_dispatch_min_score == 2.0


def test_a_mail_channel_has_no_session_window_triage_or_rate_limit_by_default() -> None:
    policy = maildir().policy()
    assert policy.kind == "maildir"
    assert policy.session_minutes == 0  # mail threads by its headers
    assert policy.confirmation_window == 0
    assert policy.triage is False
    assert policy.acks_per_address_per_hour is None
    assert policy.message_id_domain is None
    assert policy.loop_id is None
    assert policy.forwarders == ()
    assert dict(policy.messages) == {}
    assert policy.is_email is False


def test_an_imap_channel_limits_replies_and_knows_its_loop_domain() -> None:
    policy = imap(message_id_domain="Pemkab.example", forwarders=["f@x.example"])
    assert policy.policy().acks_per_address_per_hour == 5  # the default
    assert policy.policy().message_id_domain == "Pemkab.example"
    assert policy.policy().loop_id == "dengar@pemkab.example"
    assert policy.policy().forwarders == ("f@x.example",)
    assert policy.policy().is_email is True
    assert imap(acks_per_address_per_hour=0).policy().acks_per_address_per_hour == 0


def test_chat_channels_share_one_session_window_and_a_confirmation_window() -> None:
    for channel in (telegram(), whatsapp()):
        policy = channel.policy()
        assert policy.session_minutes == SESSION_MINUTES == 10
        assert policy.confirmation_window == 120
        assert policy.triage is False
    assert telegram().policy().private_chats_only is True
    assert telegram(private_chats_only=False).policy().private_chats_only is False
    assert telegram(session_minutes=0).policy().session_minutes == 0


def test_social_posts_wait_for_triage_unless_auto_dispatch_is_on() -> None:
    assert x().policy().triage is True
    assert x().policy().auto_dispatch_min_score is None  # every post waits
    on = x(auto_dispatch=True, auto_dispatch_min_score=4.5).policy()
    assert (on.triage, on.auto_dispatch_min_score) == (True, 4.5)


def test_reply_templates_are_the_channels_overrides_and_cannot_be_changed() -> None:
    policy = telegram(messages={"baru": "Siap."}).policy()
    assert policy.messages["baru"] == "Siap."
    with pytest.raises(TypeError):
        policy.messages["baru"] = "lain"  # type: ignore[index]


def test_a_channel_not_in_the_config_has_everything_off() -> None:
    policy = channel_policy("?")
    assert (policy.session_minutes, policy.confirmation_window) == (0, 0)
    assert policy.triage is False
    assert policy.acks_per_address_per_hour is None


def test_settings_give_every_configured_channel_its_policy() -> None:
    settings = Settings.model_validate(
        {
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "channels": [
                {"type": "maildir", "name": "surat", "path": "/srv/mail"},
                {"type": "telegram", "name": "bot", "token": "1:x", "enabled": False},
            ],
        }
    )
    policies = settings.channel_policies()
    assert {name: p.kind for name, p in policies.items()} == {
        "surat": "maildir",
        "bot": "telegram",
    }


@pytest.mark.parametrize("minutes", [SESSION_MINUTES, 25.0])
def test_the_bots_welcome_names_the_session_window_threading_uses(
    minutes: float,
) -> None:
    settings = Settings.model_validate(
        {
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "channels": [
                {
                    "type": "telegram",
                    "name": "bot",
                    "token": "1:x",
                    "session_minutes": minutes,
                }
            ],
        }
    )
    start = InboundMessage(
        channel="bot",
        external_id="msg:42:1",
        received_at=datetime(2026, 12, 7, tzinfo=UTC),
        raw=b"{}",
        raw_format="json",
        text="/start",
        reporter=Reporter(chat_id="42"),
        command="start",
    )
    policy = settings.channel_policies()["bot"]
    # /start needs no database: no session is opened
    text = handle_command(None, start, settings, policy)  # type: ignore[arg-type]
    assert text is not None
    assert f"{minutes:g} menit" in text


def test_a_missing_file_knows_whether_it_was_too_large() -> None:
    gone = MissingFile("photo", "a.jpg", 10, "unavailable: 404", "F1")
    big = MissingFile("photo", "b.jpg", 10**8, "too_large", "F2")
    assert (gone.too_large, big.too_large) == (False, True)
