"""Which new cases wait for staff triage before they are routed."""

from __future__ import annotations

from config.channel_settings import MaildirChannelSettings, XChannelSettings
from dengar.pipeline import _needs_triage


def x(**kwargs) -> XChannelSettings:
    return XChannelSettings(
        type="x", name="x", bearer_token="t", mentions_of=["pemkab"], **kwargs
    )


def test_private_channels_never_wait() -> None:
    maildir = MaildirChannelSettings(type="maildir", name="m", path="/srv/mail")
    assert _needs_triage(maildir.policy(), None) is False


def test_social_posts_wait_by_default() -> None:
    assert _needs_triage(x().policy(), ("jalan", 9.0)) is True


def test_auto_dispatch_takes_only_confident_complaints() -> None:
    channel = x(auto_dispatch=True, auto_dispatch_min_score=3).policy()
    assert _needs_triage(channel, ("jalan", 6.0)) is False
    assert _needs_triage(channel, ("jalan", 1.0)) is True
    assert _needs_triage(channel, None) is True  # not recognised as a complaint
