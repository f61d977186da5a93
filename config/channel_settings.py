"""Settings of each channel type, discriminated by ``type``.

Adding a channel type: a model here, an entry in ``ChannelSettings`` and in
``channels.registry``.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from config.common import Seconds, Security, Slug, SmtpSettings, StrictModel
from contracts.policy import ChannelPolicy

MB = 1_000_000
# a chat message within this many minutes of the citizen's last one
# continues that case; the bot's /start text names the same value
SESSION_MINUTES = 10.0


def channel_policy(kind: str, **specific: Any) -> ChannelPolicy:
    """The policy of a channel of type ``kind``: what it does not set is
    off (no session, no confirmation window, no triage, no rate limit, no
    loop domain). The one place of these defaults."""
    values: dict[str, Any] = {
        "session_minutes": 0.0,
        "confirmation_window": 0.0,
        "triage": False,
        "auto_dispatch_min_score": None,
        "messages": MappingProxyType({}),
        "acks_per_address_per_hour": None,
        "message_id_domain": None,
        "forwarders": (),
        "private_chats_only": False,
        "replies_to_phone": False,
    }
    values.update(specific)
    return ChannelPolicy(kind=kind, **values)


def require_secrets(settings: BaseModel, *keys: str) -> None:
    """Refuse an enabled channel whose secret ``keys`` are empty: an unset
    ``${VAR:-}`` leaves them so, and the channel's library would fail later
    with an error that names neither the channel nor the setting."""
    if not getattr(settings, "enabled", True):
        return
    for key in keys:
        secret = getattr(settings, key)
        if isinstance(secret, SecretStr) and not secret.get_secret_value().strip():
            raise ValueError(
                f"channel {getattr(settings, 'name', '?')!r}: {key} is empty (is "
                "its environment variable set?); set it or disable the channel"
            )


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

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        raise NotImplementedError

    def _policy(self, kind: str, **specific: Any) -> ChannelPolicy:
        return channel_policy(
            kind, messages=MappingProxyType(dict(self.messages)), **specific
        )


class MaildirChannelSettings(ChannelBase):
    """A standard Maildir (``new/``, ``cur/``, ``tmp/``) on local disk."""

    type: Literal["maildir"]
    path: Path
    after_import: Literal["move", "keep"] = "move"
    max_message_bytes: int = Field(default=25 * MB, ge=1)

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        return self._policy("maildir")


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
        require_secrets(self, *given)
        return self

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        return self._policy(
            "imap",
            acks_per_address_per_hour=self.acks_per_address_per_hour,
            message_id_domain=self.message_id_domain,
            forwarders=tuple(self.forwarders),
        )

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

    session_minutes: float = Field(
        default=SESSION_MINUTES,
        ge=0,
        description="a message within this many minutes of the citizen's "
        "last one continues that case (the bot's /start says so); 0: never",
    )
    confirmation_window: float = Field(
        default=120.0,
        ge=0,
        description=(
            "seconds a new case waits before its agency receives it, so that "
            "the citizen can still choose biasa/anonim/rahasia or add to it; "
            "a choice ends the wait, 0 sends at once"
        ),
    )

    def _policy(self, kind: str, **specific: Any) -> ChannelPolicy:
        return super()._policy(
            kind,
            session_minutes=self.session_minutes,
            confirmation_window=self.confirmation_window,
            **specific,
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

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        return self._policy("telegram", private_chats_only=self.private_chats_only)

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
        # not as a database error when the bot library refuses it
        require_secrets(self, "token")
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


class MetaWebhookBase(ChatChannelBase):
    """What every channel Meta pushes to shares: the app's secret and
    verify token, the Graph API address and version, and the spool where a
    signed body waits for the pipeline."""

    # the secrets an enabled channel cannot do without
    _required_secrets: ClassVar[tuple[str, ...]] = ("app_secret", "verify_token")

    app_secret: SecretStr
    verify_token: SecretStr
    api_base_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v23.0", pattern=r"^v[0-9]{1,3}\.[0-9]$")
    spool_directory: Path
    max_webhook_bytes: int = Field(default=3 * MB, ge=1024)
    # how often the runner reads the spool: a quarter second keeps the
    # acknowledgement well within a second while a busy number's messages
    # are still stored many to a transaction (one each, polled at once,
    # cost the runner 1.3 to 2.3 times the CPU per message in the WhatsApp
    # bench at 50 messages/s)
    poll_interval: Seconds = 0.25
    batch_size: int = Field(default=40, ge=1, le=100)

    @model_validator(mode="after")
    def _enabled_needs_secrets(self) -> MetaWebhookBase:
        require_secrets(self, *self._required_secrets)
        return self


class WhatsAppChannelSettings(MetaWebhookBase):
    """A WhatsApp Business number on the Cloud API (Meta's Graph API).

    Meta pushes messages to ``/webhooks/whatsapp/<name>`` on the web app;
    the signed body is kept in ``spool_directory`` before Meta gets its 200,
    and the channel hands it to the pipeline from there.
    """

    _required_secrets = ("access_token", "app_secret", "verify_token")

    type: Literal["whatsapp"]
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    access_token: SecretStr
    templates: WhatsAppTemplates = Field(default_factory=WhatsAppTemplates)
    spool_directory: Path = Field(
        default=Path("./spool/whatsapp"),
        description="where received webhook bodies wait for the pipeline "
        "(relative to the working directory); one subdirectory per channel",
    )
    messages_per_second: int = Field(
        default=80,
        ge=1,
        le=1000,
        description="the number's throughput in WhatsApp Manager (80 by "
        "default, 1000 once Meta upgraded it); sends keep below it",
    )

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        return self._policy("whatsapp")


class MetaChannelSettings(MetaWebhookBase):
    """The regency's Facebook Page and Instagram professional account
    (Graph API with a Page access token).

    Meta pushes Page ``feed`` and ``messages`` and Instagram ``comments``,
    ``mentions`` and ``messages`` to ``/webhooks/meta/<name>``; comments and
    mentions wait in triage as social posts, direct messages are chats.
    """

    _required_secrets = ("page_access_token", "app_secret", "verify_token")

    type: Literal["meta"]
    page_id: str | None = Field(default=None, pattern=r"^[0-9]{1,32}$")
    instagram_account_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,32}$",
        description="the Instagram professional account linked to the Page",
    )
    page_access_token: SecretStr
    human_agent_tag: bool = Field(
        default=False,
        description="answer direct messages up to 7 days after the citizen's "
        "last one with the HUMAN_AGENT tag (needs Meta's Human Agent "
        "permission); off, only within 24 hours",
    )
    catch_up_interval: float = Field(
        default=900.0,
        ge=0,
        description="how often the Graph API is read for comments and messages "
        "the webhooks missed; 0 turns the catch-up off",
    )
    catch_up_posts: int = Field(
        default=10,
        ge=1,
        le=100,
        description="how many of the newest posts and media the catch-up reads "
        "the comments of",
    )
    auto_dispatch: bool = False
    auto_dispatch_min_score: float = Field(
        default=3.0,
        ge=0,
        description="with auto_dispatch, comments whose category scores lower "
        "still wait for triage",
    )
    spool_directory: Path = Field(
        default=Path("./spool/meta"),
        description="where received webhook bodies wait for the pipeline "
        "(relative to the working directory); one subdirectory per channel",
    )

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up):
        direct messages are chats (session and confirmation windows);
        comments and mentions wait for triage, or with ``auto_dispatch`` only
        those the rules score below ``auto_dispatch_min_score``."""
        return self._policy(
            "meta",
            triage=True,
            auto_dispatch_min_score=(
                self.auto_dispatch_min_score if self.auto_dispatch else None
            ),
        )

    @model_validator(mode="after")
    def _has_an_account(self) -> MetaChannelSettings:
        if not self.page_id and not self.instagram_account_id:
            raise ValueError("give page_id or instagram_account_id (or both)")
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

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up):
        every post waits for triage, or with ``auto_dispatch`` only those the
        rules score below ``auto_dispatch_min_score``."""
        return self._policy(
            "x",
            triage=True,
            auto_dispatch_min_score=(
                self.auto_dispatch_min_score if self.auto_dispatch else None
            ),
        )

    @model_validator(mode="after")
    def _enabled_needs_token(self) -> XChannelSettings:
        require_secrets(self, "bearer_token")
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


class MapSettings(StrictModel):
    """The map of the form: tiles from a server the regency chooses."""

    tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="tile URL template with {z}, {x}, {y}; the browser loads "
        "tiles from it (the page allows this one host in its CSP)",
    )
    attribution: str = "© OpenStreetMap contributors"
    center_latitude: float = Field(default=-3.2, ge=-90, le=90)
    center_longitude: float = Field(default=116.2, ge=-180, le=180)
    zoom: int = Field(default=10, ge=1, le=19)


class WebformChannelSettings(ChannelBase):
    """The citizen web form ``/lapor``."""

    type: Literal["webform"]
    spool_directory: Path = Field(
        default=Path("./spool/webform"),
        description="where submissions wait for the pipeline (relative to the "
        "working directory); one subdirectory per channel",
    )
    max_files: int = Field(default=3, ge=0, le=3)
    max_file_bytes: int = Field(default=5 * MB, ge=10_000)
    max_body_bytes: int = Field(
        default=17 * MB,
        ge=100_000,
        description="cap of one submission (text, files and multipart framing)",
    )
    image_max_pixels: int = Field(
        default=2048,
        ge=256,
        description="longest side of a stored photo; larger ones are scaled down",
    )
    submissions_per_hour: int = Field(
        default=20,
        ge=1,
        description="sends per client address per hour, refused ones included "
        "(a citizen fixing a mistake sends again)",
    )
    captcha: Literal["altcha", "off"] = Field(
        default="altcha",
        description="ALTCHA proof of work (self-hosted); off only for tests",
    )
    captcha_max_number: int = Field(
        default=100_000,
        ge=1000,
        description="ALTCHA difficulty: a browser tries half of it on average",
    )
    without_javascript_per_hour: int = Field(
        default=3,
        ge=0,
        description="submissions per address per hour without the proof of work "
        "(a browser with JavaScript off cannot solve it); 0 refuses them",
    )
    form_valid_hours: float = Field(
        default=24, gt=0, description="how long a rendered form may be submitted"
    )
    similar_cases: int = Field(
        default=3, ge=0, le=3, description="'sudah dilaporkan?' shows this many"
    )
    map: MapSettings = Field(default_factory=MapSettings)
    smtp: SmtpSettings | None = Field(
        default=None,
        description="mail server for the acknowledgement and status mails to a "
        "citizen who left an e-mail address; without it the form's cases are "
        "answered on the web only (confirmation and /lacak)",
    )
    message_id_domain: str | None = Field(
        default=None, description="domain of our Message-IDs (default: from_address's)"
    )
    whatsapp_channel: str | None = Field(
        default=None,
        description="name of a type: whatsapp channel whose number sends the "
        "acknowledgement and status updates, as its approved templates, to a "
        "citizen who leaves a WhatsApp number; without it the form does not "
        "offer WhatsApp",
    )
    poll_interval: Seconds = 1.0
    batch_size: int = Field(default=40, ge=1, le=1000)

    def policy(self) -> ChannelPolicy:
        """How the pipeline treats this channel's items (read once at start-up)."""
        return self._policy(
            "webform", replies_to_phone=self.whatsapp_channel is not None
        )


ChannelSettings = Annotated[
    MaildirChannelSettings
    | ImapChannelSettings
    | TelegramChannelSettings
    | WhatsAppChannelSettings
    | MetaChannelSettings
    | WebformChannelSettings
    | XChannelSettings,
    Field(discriminator="type"),
]
