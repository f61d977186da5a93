"""Dengar's configuration: the settings schema and the loader of ``dengar.yaml``."""

from config.channel_settings import (
    ChannelSettings,
    ImapChannelSettings,
    MaildirChannelSettings,
    TelegramChannelSettings,
    XChannelSettings,
)
from config.common import SmtpSettings
from config.loader import ConfigError, ConfigProblem, load_settings, parse_settings
from config.settings import (
    AgencySettings,
    CategorySettings,
    RoutingRule,
    RoutingSettings,
    Settings,
)
from config.sink_settings import SinkSettings

__all__ = [
    "AgencySettings",
    "CategorySettings",
    "ChannelSettings",
    "ConfigError",
    "ConfigProblem",
    "ImapChannelSettings",
    "MaildirChannelSettings",
    "RoutingRule",
    "RoutingSettings",
    "Settings",
    "SinkSettings",
    "SmtpSettings",
    "TelegramChannelSettings",
    "XChannelSettings",
    "load_settings",
    "parse_settings",
]
