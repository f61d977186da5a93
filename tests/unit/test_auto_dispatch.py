"""Which new cases wait for staff triage before they are routed."""

from __future__ import annotations

from config.channel_settings import MaildirChannelSettings, XChannelSettings
from dengar.pipeline import _triage_policy
from dispatcher.intake import needs_triage


def _needs_triage(settings: object, found: tuple[str, float] | None) -> bool:
    return needs_triage(_triage_policy(settings), found)


def x(**kwargs) -> XChannelSettings:
    return XChannelSettings(
        type="x", name="x", bearer_token="t", mentions_of=["pemkab"], **kwargs
    )


def test_private_channels_never_wait() -> None:
    maildir = MaildirChannelSettings(type="maildir", name="m", path="/srv/mail")
    assert _needs_triage(maildir, None) is False


def test_social_posts_wait_by_default() -> None:
    assert _needs_triage(x(), ("jalan", 9.0)) is True


def test_auto_dispatch_takes_only_confident_complaints() -> None:
    channel = x(auto_dispatch=True, auto_dispatch_min_score=3)
    assert _needs_triage(channel, ("jalan", 6.0)) is False
    assert _needs_triage(channel, ("jalan", 1.0)) is True
    assert _needs_triage(channel, None) is True  # not recognised as a complaint
