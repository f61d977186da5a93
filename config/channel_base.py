"""What every channel's settings have (``config.channel_settings`` and the
channel models in modules of their own build on it)."""

from __future__ import annotations

from pydantic import Field

from config.common import Seconds, Slug, StrictModel

MB = 1_000_000


class ChannelBase(StrictModel):
    """What every channel has."""

    name: Slug
    enabled: bool = True
    poll_interval: Seconds = 60.0
    batch_size: int = Field(default=100, ge=1, le=10_000)
    messages: dict[str, str] = Field(
        default_factory=dict,
        description="overrides of the reply templates for this channel "
        "(docs/messages.md lists them with examples)",
    )
