"""Settings of each channel type, discriminated by ``type``.

Adding a channel type: a model here, an entry in ``ChannelSettings`` and in
``channels.registry``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from config.channel_base import MB, ChannelBase
from config.common import Seconds, Security, SmtpSettings, StrictModel
from config.webform_settings import WebformChannelSettings


class MaildirChannelSettings(ChannelBase):
    """A standard Maildir (``new/``, ``cur/``, ``tmp/``) on local disk."""

    type: Literal["maildir"]
    path: Path
    after_import: Literal["move", "keep"] = "move"
    max_message_bytes: int = Field(default=25 * MB, ge=1)


_AFTER_IMPORT = re.compile(r"^(keep|flag_seen|move:.+)$")
# a refresh token must not cross the network in clear; plain http only for a
# token endpoint on this machine (a local proxy, the tests)
_TOKEN_URL = re.compile(
    r"^(https://\S+|http://(localhost|127\.0\.0\.1|\[::1\])[:/]\S*)$"
)


class ImapOAuth2Settings(StrictModel):
    """The OAuth 2.0 refresh-token grant (RFC 6749 §6) that gives the IMAP
    channel its XOAUTH2 access tokens (Gmail, Microsoft 365)."""

    token_url: str = Field(
        description="the provider's token endpoint, e.g. "
        "https://oauth2.googleapis.com/token"
    )
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = Field(
        default=None, description="absent for a public client"
    )
    refresh_token: SecretStr
    scope: str | None = Field(
        default=None,
        description="Microsoft 365: https://outlook.office365.com/"
        "IMAP.AccessAsUser.All offline_access",
    )

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        if not _TOKEN_URL.match(value):
            raise ValueError("must be an https:// URL (http:// only for localhost)")
        return value

    @field_validator("refresh_token")
    @classmethod
    def _refresh_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty (is its environment variable set?)")
        return value


class ImapChannelSettings(ChannelBase):
    """An IMAP mailbox (imapclient)."""

    type: Literal["imap"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = "tls"
    username: str
    password: SecretStr | None = None
    oauth2_token: SecretStr | None = Field(
        default=None, description="a static XOAUTH2 access token (never refreshed)"
    )
    oauth2: ImapOAuth2Settings | None = Field(
        default=None, description="XOAUTH2 with access tokens from a refresh token"
    )
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    after_import: str = "flag_seen"
    max_message_bytes: int = Field(default=25 * MB, ge=1)
    idle: bool = True
    idle_timeout: Seconds = Field(default=25 * 60, le=29 * 60)
    smtp: SmtpSettings | None = None
    acks_per_address_per_hour: int = Field(default=5, ge=0)
    message_id_domain: str | None = Field(
        default=None, description="domain of our own Message-IDs (loop protection)"
    )
    forwarders: list[str] = Field(
        default_factory=list,
        description="addresses that forward citizens' mail; Reply-To is the reporter",
    )

    @field_validator("after_import")
    @classmethod
    def _after_import(cls, value: str) -> str:
        if not _AFTER_IMPORT.match(value):
            raise ValueError("must be keep, flag_seen or move:<folder>")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> ImapChannelSettings:
        given = [
            key
            for key in ("password", "oauth2_token", "oauth2")
            if getattr(self, key) is not None
        ]
        if len(given) != 1:
            found = f"found {' and '.join(given)}" if given else "found none"
            raise ValueError(
                f"give exactly one of password, oauth2_token or oauth2 ({found})"
            )
        return self

    @property
    def effective_port(self) -> int:
        """The port to use: the given one or the usual one for ``security``."""
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


class ChatChannelBase(ChannelBase):
    """What every chat channel (Telegram today, WhatsApp later) has: a
    conversation with the citizen, who may shape a new case before an agency
    sees it."""

    session_minutes: float = Field(default=10, ge=0)
    confirmation_window: float = Field(
        default=120.0,
        ge=0,
        description=(
            "seconds a new case waits before its agency receives it, so that "
            "the citizen can still choose biasa/anonim/rahasia or add to it; "
            "a choice ends the wait, 0 sends at once"
        ),
    )


class TelegramChannelSettings(ChatChannelBase):
    """A Telegram bot (python-telegram-bot).

    ``mode: webhook``: Telegram posts updates to ``webhook_url``, which the
    reverse proxy forwards to ``/webhooks/telegram/<name>`` on the web app
    (``dengar serve`` or ``dengar run --web``); each update is kept in
    ``spool_directory`` before Telegram gets its 200, and the channel hands
    it to the pipeline from there.
    """

    type: Literal["telegram"]
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = Field(
        default=None,
        description="public HTTPS URL Telegram posts to (setWebhook); its path "
        "ends with /webhooks/telegram/<name>, the web app's route",
    )
    secret_token: SecretStr | None = Field(
        default=None,
        description="sent by Telegram in X-Telegram-Bot-Api-Secret-Token; "
        "1-256 of A-Z a-z 0-9 _ -",
    )
    spool_directory: Path = Field(
        default=Path("./spool/telegram"),
        description="where received webhook updates wait for the pipeline "
        "(relative to the working directory); one subdirectory per channel",
    )
    max_webhook_bytes: int = Field(
        default=1 * MB,
        ge=1024,
        description="largest webhook body accepted (413 above it)",
    )
    private_chats_only: bool = True
    max_file_bytes: int = Field(default=20 * MB, ge=1)
    long_poll_timeout: int = Field(default=25, ge=0, le=50)
    # smaller batches than mail: a citizen waits for the acknowledgement of
    # each message (bench/telegram.py: p95 0.35 s at 40, 0.78 s at 100)
    batch_size: int = Field(default=40, ge=1, le=100)
    poll_interval: Seconds = 1.0

    @model_validator(mode="before")
    @classmethod
    def _no_own_webhook_server(cls, data: object) -> object:
        # an old config would otherwise point Telegram at a port nobody
        # listens on any more: say what replaced it
        if isinstance(data, dict) and "webhook_listen" in data:
            raise ValueError(
                "webhook_listen is gone: Telegram's webhook is served by the "
                "web app (dengar serve, or dengar run --web) at "
                "/webhooks/telegram/<name>; remove webhook_listen and point "
                "the proxy of webhook_url there"
            )
        return data

    @model_validator(mode="after")
    def _enabled_needs_token(self) -> TelegramChannelSettings:
        # an unset ${VAR:-} leaves it empty: say so here, not as a database
        # error when the bot library refuses it
        if self.enabled and not self.token.get_secret_value().strip():
            raise ValueError(
                f"channel {self.name!r}: token is empty (is its environment "
                "variable set?); set it or disable the channel"
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramChannelSettings:
        if self.mode != "webhook":
            return self
        if not self.webhook_url:
            raise ValueError("mode webhook needs webhook_url")
        if self.secret_token is None:
            raise ValueError("mode webhook needs secret_token")
        route = f"/webhooks/telegram/{self.name}"
        path = urlsplit(self.webhook_url).path.rstrip("/")
        if not path.endswith(route):
            raise ValueError(
                f"webhook_url must end with {route} (the web app's route for "
                f"this channel), got path {path or '/'!r}"
            )
        return self


class WhatsAppTemplate(StrictModel):
    """A message template approved in WhatsApp Manager, sent when the
    citizen's last message is more than 24 hours old."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(
        default="id", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$", description="e.g. id"
    )


class WhatsAppTemplates(StrictModel):
    """One template per kind of message; its one body parameter is the
    case's tracking number."""

    acknowledgement: WhatsAppTemplate | None = None
    status_update: WhatsAppTemplate | None = None


class WhatsAppChannelSettings(ChatChannelBase):
    """A WhatsApp Business number on the Cloud API (Meta's Graph API).

    Meta pushes messages to ``/webhooks/whatsapp/<name>`` on the web app;
    the signed body is kept in ``spool_directory`` before Meta gets its 200,
    and the channel hands it to the pipeline from there.
    """

    type: Literal["whatsapp"]
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    access_token: SecretStr
    app_secret: SecretStr
    verify_token: SecretStr
    api_base_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v23.0", pattern=r"^v[0-9]{1,3}\.[0-9]$")
    templates: WhatsAppTemplates = Field(default_factory=WhatsAppTemplates)
    spool_directory: Path = Field(
        default=Path("./spool/whatsapp"),
        description="where received webhook bodies wait for the pipeline "
        "(relative to the working directory); one subdirectory per channel",
    )
    max_webhook_bytes: int = Field(default=3 * MB, ge=1024)
    poll_interval: Seconds = 1.0
    batch_size: int = Field(default=40, ge=1, le=100)

    @model_validator(mode="after")
    def _enabled_needs_secrets(self) -> WhatsAppChannelSettings:
        if not self.enabled:
            return self
        for key in ("access_token", "app_secret", "verify_token"):
            secret: SecretStr = getattr(self, key)
            if not secret.get_secret_value().strip():
                raise ValueError(
                    f"channel {self.name!r}: {key} is empty (is its environment "
                    "variable set?); set it or disable the channel"
                )
        return self


class XChannelSettings(ChannelBase):
    """X (Twitter) mentions and recent search (tweepy)."""

    type: Literal["x"]
    bearer_token: SecretStr
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    mentions_of: list[str] = Field(default_factory=list)
    search: list[str] = Field(default_factory=list)
    include_retweets: bool = False
    poll_interval: Seconds = 300.0
    max_posts_per_poll: int = Field(default=100, ge=10, le=1000)
    auto_dispatch: bool = False
    auto_dispatch_min_score: float = Field(
        default=3.0,
        ge=0,
        description="with auto_dispatch, posts whose category scores lower "
        "still wait for triage",
    )
    reply: bool = False
    reply_contact: str | None = Field(
        default=None,
        max_length=120,
        description="where a public reply invites the citizen to continue "
        "privately (bot link or email address)",
    )
    api_base_url: str = "https://api.twitter.com"

    @model_validator(mode="after")
    def _enabled_needs_token(self) -> XChannelSettings:
        if self.enabled and not self.bearer_token.get_secret_value().strip():
            raise ValueError(
                f"channel {self.name!r}: bearer_token is empty (is its environment "
                "variable set?); set it or disable the channel"
            )
        return self

    @model_validator(mode="after")
    def _has_a_source(self) -> XChannelSettings:
        if not self.mentions_of and not self.search:
            raise ValueError("give mentions_of or search (or both)")
        user_context = (
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        )
        if self.reply and any(v is None for v in user_context):
            raise ValueError(
                "reply needs consumer_key, consumer_secret, access_token and "
                "access_token_secret"
            )
        return self


ChannelSettings = Annotated[
    MaildirChannelSettings
    | ImapChannelSettings
    | TelegramChannelSettings
    | WhatsAppChannelSettings
    | WebformChannelSettings
    | XChannelSettings,
    Field(discriminator="type"),
]
