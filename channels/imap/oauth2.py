"""XOAUTH2 access tokens from an OAuth 2.0 refresh token (RFC 6749 §6).

Gmail and Microsoft 365 access tokens last about an hour, so the IMAP channel
does not take one from the configuration: it keeps a long-lived *refresh
token* (``oauth2:`` in the IMAP settings) and trades it for access tokens.

- The trade is a form-encoded ``POST token_url`` with
  ``grant_type=refresh_token``, the refresh token, ``client_id`` and, for a
  confidential client, ``client_secret`` in the body (both Google and
  Microsoft accept that), plus ``scope`` when configured.
- An access token is reused until shortly before its ``expires_in`` (without
  one: until a login refuses it; the channel then asks for a new one once).
- A provider that rotates refresh tokens (Microsoft does) sends a new one with
  the access token: it replaces the configured one **in memory only**. It is
  never written back to the configuration, so after a restart the configured
  token is used again; it still works as long as the provider has not expired
  or revoked it.
- ``invalid_grant`` (refresh token expired or revoked) and ``invalid_client``
  (wrong client id/secret) are ``FatalChannelError`` saying what to renew;
  5xx, 429, network errors and timeouts are ``RetriableChannelError``.

No secret (client secret, refresh token, access token) ever reaches a log
line, a repr or an error message: the provider's error description is
included only after every secret is masked in it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from config.channel_settings import ImapOAuth2Settings
from contracts.errors import FatalChannelError, RetriableChannelError

log = logging.getLogger(__name__)

_TIMEOUT = httpx.Timeout(20.0)
# renew this long before expiry, so a login never races the deadline; a
# token that lives less than twice this is renewed after half its lifetime
_EARLY_SECONDS = 60.0
_WHAT_TO_DO = {
    "invalid_grant": (
        "the refresh token has expired or been revoked (password change, "
        "consent withdrawn, unused too long): obtain a new one (docs/email.md, "
        "XOAUTH2), put it in oauth2.refresh_token and restart Dengar"
    ),
    "invalid_client": (
        "the client is not accepted: check oauth2.client_id and "
        "oauth2.client_secret (none for a Microsoft public client; a Microsoft "
        "client secret expires: create a new one in the app registration) and "
        "restart Dengar"
    ),
}


@dataclass(slots=True)
class _Cached:
    token: SecretStr = field(repr=False)
    renew_at: float
    # handed out before: a refusal then means "expired early", worth a second
    # try; a brand-new token refused will not do better the next time
    reused: bool = False


class RefreshTokenSource:
    """Access tokens for one mailbox, fetched with its refresh token and cached.

    Thread-safe. ``transport`` is for tests (an httpx transport passed in,
    never patched in); ``clock`` is ``time.monotonic`` unless a test says
    otherwise.
    """

    def __init__(
        self,
        settings: ImapOAuth2Settings,
        account: str,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._account = account
        self._transport = transport
        self._clock = clock
        self._refresh_token = settings.refresh_token
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"RefreshTokenSource(token_url={self._settings.token_url!r}, "
            f"client_id={self._settings.client_id!r}, account={self._account!r})"
        )

    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one when it is due."""
        with self._lock:
            cached = self._cached
            if cached is None or self._clock() >= cached.renew_at:
                cached = self._cached = self._request()
            else:
                cached.reused = True
            return cached.token.get_secret_value()

    def replace_refused(self) -> str | None:
        """The server refused the last access token. If it came from the cache
        (revoked or expired early), a new one; if it was brand new, None: the
        cause is elsewhere (mailbox, scope) and another token would not help."""
        with self._lock:
            cached, self._cached = self._cached, None
            if cached is None or not cached.reused:
                return None
            log.info(
                "the OAuth2 access token for %r was refused: getting a new one",
                self._account,
            )
            renewed = self._cached = self._request()
            return renewed.token.get_secret_value()

    def _request(self) -> _Cached:
        s = self._settings
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.get_secret_value(),
            "client_id": s.client_id,
        }
        if s.client_secret is not None:
            form["client_secret"] = s.client_secret.get_secret_value()
        if s.scope:
            form["scope"] = s.scope
        started = self._clock()
        try:
            with httpx.Client(transport=self._transport, timeout=_TIMEOUT) as http:
                response = http.post(
                    s.token_url, data=form, headers={"Accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise RetriableChannelError(
                f"OAuth2 token endpoint {s.token_url} unreachable: {type(exc).__name__}"
            ) from None
        body = _json_object(response)
        if response.status_code != 200 or "access_token" not in body:
            raise self._refusal(response, body)
        return self._accept(body, started)

    def _accept(self, body: dict[str, object], started: float) -> _Cached:
        token = body["access_token"]
        if not isinstance(token, str) or not token:
            raise RetriableChannelError(
                f"OAuth2 token endpoint {self._settings.token_url} sent an "
                "unusable access_token"
            )
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            if rotated != self._refresh_token.get_secret_value():
                log.info(
                    "the OAuth2 provider rotated the refresh token for %r: "
                    "using the new one from now on (in memory only, the "
                    "configuration is not changed)",
                    self._account,
                )
            self._refresh_token = SecretStr(rotated)
        lifetime = _seconds(body.get("expires_in"))
        if lifetime is None:
            renew_at = float("inf")  # until a login refuses it
        else:
            renew_at = started + lifetime - min(_EARLY_SECONDS, lifetime / 2)
        log.debug(
            "OAuth2 access token for %r from %s, valid %s s",
            self._account,
            self._settings.token_url,
            "?" if lifetime is None else f"{lifetime:.0f}",
        )
        return _Cached(SecretStr(token), renew_at)

    def _refusal(
        self, response: httpx.Response, body: dict[str, object]
    ) -> FatalChannelError | RetriableChannelError:
        status = response.status_code
        code = str(body.get("error") or f"HTTP {status}")
        said = self._masked(str(body.get("error_description") or ""))[:200]
        where = f"OAuth2 token endpoint {self._settings.token_url}"
        detail = f"{code}: {said}" if said else code
        if status >= 500 or status == 429 or code == "temporarily_unavailable":
            return RetriableChannelError(
                f"{where} is unavailable ({detail})",
                retry_after=_seconds(response.headers.get("Retry-After")),
            )
        if status == 200:
            return RetriableChannelError(f"{where} sent no access_token")
        advice = _WHAT_TO_DO.get(
            code, "check the oauth2 settings of this channel and restart Dengar"
        )
        return FatalChannelError(
            f"{where} refused to issue an access token for {self._account!r} "
            f"({detail}); {advice}"
        )

    def _masked(self, text: str) -> str:
        secrets = [self._refresh_token, self._settings.refresh_token]
        if self._settings.client_secret is not None:
            secrets.append(self._settings.client_secret)
        for secret in secrets:
            value = secret.get_secret_value()
            if value:
                text = text.replace(value, "**********")
        return text


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
