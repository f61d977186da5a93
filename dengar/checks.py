"""What ``dengar check`` tries beyond the channels' own logins: the SMTP side
of each IMAP channel (every acknowledgement goes through it), and the
endpoint of each agency's sink. Each check returns None when fine, or a
message that names the channel or agency and the setting, never a secret.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from channels.imap.smtp import SmtpReplier
from config.channel_settings import ImapChannelSettings, WebformChannelSettings
from config.settings import AgencySettings, Settings
from config.sink_settings import (
    AmqpSinkSettings,
    EmailSinkSettings,
    HttpSinkSettings,
    RedisSinkSettings,
    WebhookSinkSettings,
)

CONNECT_TIMEOUT = 10.0
_DEFAULT_PORTS = {"http": 80, "https": 443, "amqp": 5672, "amqps": 5671}


async def check_reply_side(settings: ImapChannelSettings) -> str | None:
    """Log in to the channel's SMTP server as an acknowledgement would."""
    if settings.smtp is None:
        return None  # reported by cannot_reply()
    try:
        await SmtpReplier(settings.smtp, settings.message_id_domain).check()
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        return f"smtp: {exc}"
    return None


def cannot_reply(settings: Settings, repliers: set[str]) -> dict[str, str]:
    """Enabled channels whose citizens get no acknowledgement, and why."""
    out: dict[str, str] = {}
    for channel in settings.channels:
        if not channel.enabled:
            continue
        if isinstance(channel, ImapChannelSettings) and channel.smtp is None:
            out[channel.name] = (
                "no smtp: block, so citizens get no acknowledgement or status mail"
            )
        elif channel.name not in repliers:
            out[channel.name] = (
                f"a {channel.type} channel cannot reply: citizens who wrote "
                "through it get no acknowledgement or status update"
            )
    return out


def webform_whatsapp(settings: Settings) -> dict[str, str]:
    """Warnings about WhatsApp on the web form: a ``whatsapp_channel`` that
    is disabled (the form then does not offer WhatsApp, though the config
    asks for it), or a running WhatsApp channel the form does not use."""
    out: dict[str, str] = {}
    whatsapp = {c.name: c for c in settings.channels if c.type == "whatsapp"}
    for form in settings.channels:
        if not isinstance(form, WebformChannelSettings) or not form.enabled:
            continue
        named = whatsapp.get(form.whatsapp_channel or "")
        if named is not None and not named.enabled:
            out[form.name] = (
                f"whatsapp_channel {named.name!r} is disabled: the form does not "
                "offer WhatsApp, and citizens who left a number earlier get no "
                "acknowledgement or status update"
            )
        elif form.whatsapp_channel is None:
            running = sorted(n for n, c in whatsapp.items() if c.enabled)
            if running:
                out[form.name] = (
                    "the form does not offer WhatsApp although channel "
                    f"{running[0]!r} runs; set whatsapp_channel: {running[0]} "
                    "so that citizens can hear back there"
                )
    return out


async def check_sink(agency: AgencySettings) -> str | None:
    """Reach the agency's endpoint (SMTP login for e-mail, a connection for
    a webhook, RabbitMQ or Redis); None when it answers."""
    sink = agency.sink
    try:
        if isinstance(sink, EmailSinkSettings):
            await SmtpReplier(sink.smtp).check()
        elif isinstance(sink, WebhookSinkSettings):
            await _connect(sink.url, "sink.url")
        elif (
            isinstance(sink, HttpSinkSettings) and "{" not in urlsplit(sink.url).netloc
        ):
            # the URL is a template; its host is known unless templated too
            await _connect(sink.url, "sink.url")
        elif isinstance(sink, AmqpSinkSettings | RedisSinkSettings):
            await _connect(sink.url.get_secret_value(), "sink.url")
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        return str(exc)
    return None


async def _connect(url: str, setting: str) -> None:
    """Open (and close) a connection to the URL's host and port; TLS when the
    scheme asks for it. The message shows host and port only: the URL may
    carry a password."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(scheme, 6379)
    secure = scheme in ("https", "amqps", "rediss")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=ssl.create_default_context() if secure else None
            ),
            CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError) as exc:
        reason = type(exc).__name__ if isinstance(exc, TimeoutError) else exc.strerror
        raise ConnectionError(
            f"{setting}: cannot connect to {host}:{port}: {reason or exc}"
        ) from None
    writer.close()
    await writer.wait_closed()
