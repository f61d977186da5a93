"""Access tokens from a refresh token: what is sent, how long a token is
reused, rotation, and which provider answers stop the channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from channels.imap.oauth2 import RefreshTokenSource
from config.channel_settings import ImapOAuth2Settings
from contracts.errors import FatalChannelError, RetriableChannelError

REFRESH = "1//rahasia-segar"
SECRET = "GOCSPX-rahasia-klien"
TOKEN_URL = "https://oauth2.googleapis.com/token"

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """Answers each token request with the next access token, and keeps the
    forms it received."""

    def __init__(self, **extra: object) -> None:
        self.forms: list[dict[str, str]] = []
        self.extra = extra

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        body = {"access_token": f"ya29.akses-{len(self.forms)}", **self.extra}
        return httpx.Response(200, json=body)


def source(
    handler: Handler, clock: Clock | None = None, **settings: object
) -> RefreshTokenSource:
    values: dict[str, object] = {
        "token_url": TOKEN_URL,
        "client_id": "dengar",
        "client_secret": SECRET,
        "refresh_token": REFRESH,
        **settings,
    }
    return RefreshTokenSource(
        ImapOAuth2Settings.model_validate(values),
        "pengaduan@kotabarukab.go.id",
        transport=httpx.MockTransport(handler),
        clock=clock or Clock(),
    )


def test_posts_the_refresh_grant_with_the_client_in_the_form() -> None:
    provider = Provider(expires_in=3599)
    tokens = source(provider, scope="https://mail.google.com/")
    assert tokens.access_token() == "ya29.akses-1"
    assert provider.forms == [
        {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH,
            "client_id": "dengar",
            "client_secret": SECRET,
            "scope": "https://mail.google.com/",
        }
    ]


def test_a_public_client_sends_no_secret() -> None:
    provider = Provider(expires_in=3599)
    source(provider, client_secret=None).access_token()
    assert "client_secret" not in provider.forms[0]


def test_token_is_reused_until_shortly_before_it_expires() -> None:
    clock = Clock()
    tokens = source(Provider(expires_in=3600), clock)
    first = tokens.access_token()
    clock.now += 3600 - 61
    assert tokens.access_token() == first
    clock.now += 2
    assert tokens.access_token() != first


def test_token_without_expiry_is_reused_until_refused() -> None:
    clock = Clock()
    tokens = source(Provider(), clock)
    first = tokens.access_token()
    clock.now += 10 * 86400
    assert tokens.access_token() == first
    assert tokens.replace_refused() == "ya29.akses-2"


def test_a_refused_brand_new_token_is_not_replaced() -> None:
    provider = Provider(expires_in=3600)
    tokens = source(provider)
    tokens.access_token()
    assert tokens.replace_refused() is None
    assert len(provider.forms) == 1


def test_rotated_refresh_token_is_used_from_then_on(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rotated = "1//rahasia-baru"
    provider = Provider(expires_in=3600, refresh_token=rotated)
    clock = Clock()
    tokens = source(provider, clock)
    tokens.access_token()
    clock.now += 3600
    tokens.access_token()
    assert [f["refresh_token"] for f in provider.forms] == [REFRESH, rotated]
    assert "rotated the refresh token" in caplog.text
    for secret in (REFRESH, rotated, SECRET, "ya29.akses"):
        assert secret not in caplog.text
        assert secret not in repr(tokens)


def answer(status: int, body: object, **headers: str) -> Handler:
    return lambda request: httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (
            answer(400, {"error": "invalid_grant", "error_description": "Bad"}),
            ["invalid_grant: Bad", "expired or been revoked", "oauth2.refresh_token"],
        ),
        (
            answer(401, {"error": "invalid_client"}),
            ["invalid_client", "oauth2.client_secret"],
        ),
        (
            answer(400, {"error": "invalid_scope"}),
            ["invalid_scope", "check the oauth2 settings"],
        ),
        (answer(404, "Not Found"), ["HTTP 404"]),
    ],
    ids=["invalid_grant", "invalid_client", "invalid_scope", "not_found"],
)
def test_refusals_stop_the_channel_and_say_what_to_fix(
    handler: Handler, words: list[str]
) -> None:
    with pytest.raises(FatalChannelError) as caught:
        source(handler).access_token()
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "pengaduan@kotabarukab.go.id" in message
    assert REFRESH not in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("handler", "retry_after"),
    [
        (answer(503, {"error": "temporarily_unavailable"}), None),
        (answer(502, "<html>Bad Gateway</html>"), None),
        (answer(429, {"error": "rate_limited"}, **{"Retry-After": "30"}), 30.0),
        (answer(200, {"token_type": "Bearer"}), None),
    ],
    ids=["503", "502", "429", "no_access_token"],
)
def test_outages_are_retried(handler: Handler, retry_after: float | None) -> None:
    with pytest.raises(RetriableChannelError) as caught:
        source(handler).access_token()
    assert caught.value.retry_after == retry_after


def test_network_errors_and_timeouts_are_retried() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(RetriableChannelError, match="ReadTimeout"):
        source(timeout).access_token()


def test_secrets_echoed_by_the_provider_are_masked() -> None:
    echo = {"error": "invalid_grant", "error_description": f"bad token {REFRESH}"}
    with pytest.raises(FatalChannelError) as caught:
        source(answer(400, echo)).access_token()
    assert REFRESH not in str(caught.value)
    assert "bad token **********" in str(caught.value)
