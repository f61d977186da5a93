"""Dengar's configuration: the settings schema and the loader of ``dengar.yaml``.

The names below are imported on first use (PEP 562), so that a light module
of this package (``config.localtime``) does not pull in pydantic and every
settings model: ``dengar --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.channel_settings import (
        ChannelSettings,
        ImapChannelSettings,
        MaildirChannelSettings,
        TelegramChannelSettings,
        WhatsAppChannelSettings,
        XChannelSettings,
    )
    from config.common import SmtpSettings
    from config.loader import ConfigError, ConfigProblem, load_settings, parse_settings
    from config.settings import (
        AgencySettings,
        CategorySettings,
        RoutingModelSettings,
        RoutingRule,
        RoutingSettings,
        Settings,
    )
    from config.sink_settings import SinkSettings

_WHERE = {
    "ChannelSettings": "config.channel_settings",
    "ImapChannelSettings": "config.channel_settings",
    "MaildirChannelSettings": "config.channel_settings",
    "TelegramChannelSettings": "config.channel_settings",
    "WhatsAppChannelSettings": "config.channel_settings",
    "XChannelSettings": "config.channel_settings",
    "SmtpSettings": "config.common",
    "ConfigError": "config.loader",
    "ConfigProblem": "config.loader",
    "load_settings": "config.loader",
    "parse_settings": "config.loader",
    "AgencySettings": "config.settings",
    "CategorySettings": "config.settings",
    "RoutingModelSettings": "config.settings",
    "RoutingRule": "config.settings",
    "RoutingSettings": "config.settings",
    "Settings": "config.settings",
    "SinkSettings": "config.sink_settings",
}

__all__ = [
    "AgencySettings",
    "CategorySettings",
    "ChannelSettings",
    "ConfigError",
    "ConfigProblem",
    "ImapChannelSettings",
    "MaildirChannelSettings",
    "RoutingModelSettings",
    "RoutingRule",
    "RoutingSettings",
    "Settings",
    "SinkSettings",
    "SmtpSettings",
    "TelegramChannelSettings",
    "WhatsAppChannelSettings",
    "XChannelSettings",
    "load_settings",
    "parse_settings",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'config' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
