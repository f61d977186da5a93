"""The IMAP connection of one ``ImapChannel``: login (password, OAuth2
token, or XOAUTH2 with a refresh token), and imapclient's errors turned into
channel errors the runner knows how to treat."""

from __future__ import annotations

import contextlib
import ssl
import threading
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from channels.imap.oauth2 import RefreshTokenSource
from config.channel_settings import ImapChannelSettings
from contracts.errors import FatalChannelError, RetriableChannelError

_CONNECT_TIMEOUT = 30.0
_TEMPORARY_AUTH_FAILURE = "[UNAVAILABLE]"


class ImapConnection:
    """One IMAP connection, opened on first use and dropped on any error."""

    def __init__(self, settings: ImapChannelSettings) -> None:
        self.settings = settings
        self._client: IMAPClient | None = None
        self.tokens = (
            RefreshTokenSource(settings.oauth2, settings.username)
            if settings.oauth2 is not None
            else None
        )
        # one IMAP connection: a check() or close() waits for a fetch in IDLE
        self._lock = threading.Lock()

    def guard(self, func: Any, *args: Any) -> Any:
        """Run ``func`` and turn library errors into channel errors."""
        with self._lock:
            return self._translate(func, *args)

    def close(self) -> None:
        """Log out (best effort), once no other call uses the connection."""
        with self._lock:
            self.drop()

    def _translate(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except (FatalChannelError, RetriableChannelError):
            raise
        except LoginError as exc:
            self.drop()
            if _TEMPORARY_AUTH_FAILURE in str(exc):
                # RFC 5530: the server could not check the credentials (for
                # XOAUTH2: its token endpoint is down); they may well be fine
                raise RetriableChannelError(
                    f"IMAP server {self.settings.host} cannot check logins "
                    f"right now: {short(exc)}"
                ) from None
            hint = ""
            if self.tokens is not None:
                hint = (
                    " (a new access token was refused: is the refresh token "
                    "for this mailbox, with the IMAP scope?)"
                )
            raise FatalChannelError(
                f"IMAP login failed for {self.settings.username!r} at "
                f"{self.settings.host}: {short(exc)}{hint}"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            self.drop()
            raise FatalChannelError(
                f"TLS certificate of {self.settings.host} not trusted: "
                f"{exc.verify_message}"
            ) from None
        except (OSError, IMAPClientAbortError, EOFError) as exc:
            # refused, reset, timeout, TLS failure, server said BYE
            self.drop()
            raise RetriableChannelError(
                f"IMAP connection to {self.settings.host}:"
                f"{self.settings.effective_port} failed: {short(exc)}"
            ) from None
        except IMAPClientError as exc:
            # a NO/BAD we did not expect: the session state is unknown
            self.drop()
            raise RetriableChannelError(f"IMAP error: {short(exc)}") from None

    def connect(self) -> IMAPClient:
        """The logged-in client, connecting first when there is none."""
        if self._client is not None:
            return self._client
        s = self.settings
        # before connecting: no IMAP session idles while the provider answers
        access_token = self.tokens.access_token() if self.tokens else None
        context = ssl.create_default_context()
        client = IMAPClient(
            s.host,
            port=s.effective_port,
            ssl=s.security == "tls",
            ssl_context=context if s.security == "tls" else None,
            timeout=_CONNECT_TIMEOUT,
        )
        try:
            if s.security == "starttls":
                client.starttls(context)
            if access_token is not None:
                self._xoauth2_login(client, access_token)
            elif s.oauth2_token is not None:
                client.oauth2_login(s.username, s.oauth2_token.get_secret_value())
            else:
                assert s.password is not None  # settings require exactly one kind
                client.login(s.username, s.password.get_secret_value())
        except BaseException:
            _quietly_close(client)
            raise
        self._client = client
        return client

    def _xoauth2_login(self, client: IMAPClient, access_token: str) -> None:
        assert self.tokens is not None
        try:
            client.oauth2_login(self.settings.username, access_token)
        except LoginError as exc:
            # a cached token may have been revoked or expired early: one new
            # token, one more try; an unavailable server is not the token
            renewed = None
            if _TEMPORARY_AUTH_FAILURE not in str(exc):
                renewed = self.tokens.replace_refused()
            if renewed is None:
                raise
            client.oauth2_login(self.settings.username, renewed)

    def drop(self) -> None:
        """Forget the client, logging it out (best effort)."""
        client, self._client = self._client, None
        if client is not None:
            _quietly_close(client)


def select_folder(client: IMAPClient, folder: str) -> dict[bytes, Any]:
    """Select ``folder``; a folder that cannot be opened is a config error."""
    try:
        info: dict[bytes, Any] = client.select_folder(folder)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise FatalChannelError(
            f"cannot open IMAP folder {folder!r}: {short(exc)}"
        ) from None
    return info


def short(exc: BaseException) -> str:
    """The error's text, bounded for logs and the status page."""
    text = str(exc)
    return (text or type(exc).__name__)[:300]


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError, EOFError):
        with contextlib.suppress(OSError, IMAPClientError, EOFError):
            client.shutdown()
