"""XOAUTH2 (Gmail / Microsoft 365 style) against a real Dovecot whose oauth2
passdb checks bearer tokens at a local introspection endpoint
(``tests/fakes/oauth_introspect.py``), with a static ``oauth2_token`` and with
access tokens obtained from a refresh token at the same fake provider."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from channels.imap.channel import ImapChannel
from config.channel_settings import ImapChannelSettings
from config.loader import parse_settings
from contracts.errors import FatalChannelError, RetriableChannelError
from dengar.app import App
from dengar.runner import Runner
from dengar.status_report import status_report
from normalizer.mime import parse_mail
from storage.tables import ComplaintRow
from tests.fakes.dovecot import Dovecot, running_dovecot
from tests.fakes.oauth_introspect import TokenIntrospection, running_introspection
from tests.integration.test_imap import append, mail

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenIntrospection]:
    with running_introspection() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def server(tokens: TokenIntrospection) -> Iterator[Dovecot]:
    with running_dovecot(oauth2_url=tokens.url) as dovecot:
        yield dovecot


@pytest.fixture
def own_server(tokens: TokenIntrospection) -> Iterator[Dovecot]:
    # Dovecot slows every login from an address after a failed one: tests
    # that fail a login get their own server so the others stay quick
    with running_dovecot(oauth2_url=tokens.url) as dovecot:
        yield dovecot


@pytest.fixture
def user() -> str:
    return f"warga-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def token() -> str:
    return f"ya29.rahasia-{uuid.uuid4().hex}"


def settings(server: Dovecot, user: str, token: str) -> ImapChannelSettings:
    return ImapChannelSettings(
        name="surel-oauth",
        type="imap",
        host=server.host,
        port=server.port,
        security="none",
        username=user,
        oauth2_token=token,
        after_import="keep",
    )


def secret_forms(user: str, token: str) -> list[str]:
    """The token as typed, and the XOAUTH2 blob that carries it on the wire."""
    blob = f"user={user}\1auth=Bearer {token}\1\1".encode()
    return [token, base64.b64encode(blob).decode()]


def assert_nowhere(texts: list[str], user: str, token: str) -> None:
    for secret in secret_forms(user, token):
        for text in texts:
            assert secret not in text


def install(tmp_path: Path, server: Dovecot, user: str, token: str) -> App:
    # the documented setup: the token comes from the environment
    config = f"""
database_url: sqlite:///{tmp_path / "dengar.db"}
channels:
  - name: surel-gmail
    type: imap
    host: {server.host}
    port: {server.port}
    security: none
    username: {user}
    oauth2_token: ${{DENGAR_IMAP_OAUTH2_TOKEN}}
    after_import: flag_seen
    idle: false
agencies: [{{code: DISKOMINFO, name: Diskominfo}}]
routing: {{default_agency: DISKOMINFO}}
"""
    return App.open(parse_settings(config, environ={"DENGAR_IMAP_OAUTH2_TOKEN": token}))


@dataclass
class Outcome:
    """One ``run --once`` of an installation: what it said, stored, showed."""

    summary: Any
    cases: list[ComplaintRow]
    report: dict[str, Any]
    shown: list[str]  # the reprs an operator could see


async def run_once(app, channel: str) -> Outcome:
    try:
        summary = await Runner(app).run_once()
        with app.sessions() as session:
            cases = list(session.exec(select(ComplaintRow)).all())
            report = status_report(session, app.settings)
        shown = [repr(app.channels[channel]), repr(app.settings)]
    finally:
        await app.close()
    return Outcome(summary, cases, report, shown)


async def test_token_logs_in_with_xoauth2_and_fetches_mail(server, tokens, user, token):
    tokens.issue(token, user)
    append(server, user, mail("Jalan rusak"), mail("Lampu jalan mati"))
    channel = ImapChannel(settings(server, user, token), wait_seconds=0)
    try:
        await channel.check()
        result = await channel.fetch(None, limit=10)
    finally:
        await channel.close()
    assert [parse_mail(i.raw).subject for i in result.items] == [
        "Jalan rusak",
        "Lampu jalan mati",
    ]
    # the server asked the token endpoint: the login was XOAUTH2, not a password
    assert token in tokens.asked


async def test_oauth2_channel_ingests_mail_into_a_case(
    tmp_path, server, tokens, user, token
):
    tokens.issue(token, user)
    append(server, user, mail("Jembatan ambruk di Desa Sukamaju"))
    app = install(tmp_path, server, user, token)
    try:
        summary = await Runner(app).run_once()
        assert summary.errors == {}
        with app.sessions() as session:
            [case] = session.exec(select(ComplaintRow)).all()
            report = status_report(session, app.settings)
    finally:
        await app.close()
    assert case.kind == "case"
    assert case.channel == "surel-gmail"
    assert "Jembatan ambruk" in (case.subject or case.clean_text)
    [channel] = report["channels"]
    assert channel["healthy"]
    assert channel["cases"] == 1


async def test_wrong_token_stops_the_channel_and_is_never_shown(
    tmp_path, own_server, tokens, user, token, caplog
):
    caplog.set_level(logging.DEBUG)
    tokens.issue(f"{token}-yang-benar", user)
    append(own_server, user, mail("tidak akan terbaca"))
    app = install(tmp_path, own_server, user, token)
    outcome = await run_once(app, "surel-gmail")
    summary, report, shown = outcome.summary, outcome.report, outcome.shown
    cases = outcome.cases
    assert cases == []
    error = summary.errors["surel-gmail"]
    assert "login failed" in error
    assert user in error  # says which account, so the operator knows what to fix
    [channel] = report["channels"]
    assert not channel["healthy"]
    assert "login failed" in channel["disabled_reason"]
    assert_nowhere(
        [error, json.dumps(report), caplog.text, *shown], user=user, token=token
    )


async def test_expired_token_fails_the_next_login_clearly(
    own_server, tokens, user, token, caplog
):
    caplog.set_level(logging.DEBUG)
    tokens.issue(token, user)
    append(own_server, user, mail("sebelum kedaluwarsa"))
    channel = ImapChannel(settings(own_server, user, token), wait_seconds=0)
    try:
        first = await channel.fetch(None, limit=10)
        assert len(first.items) == 1
        # a static oauth2_token is never refreshed: once it expires, the next
        # login fails
        tokens.revoke(token)
        await channel.close()
        with pytest.raises(FatalChannelError, match="login failed") as caught:
            await channel.fetch(first.cursor, limit=10)
    finally:
        await channel.close()
    assert_nowhere(
        [str(caught.value), repr(caught.value), repr(channel), caplog.text],
        user=user,
        token=token,
    )


async def test_token_endpoint_outage_is_retried_not_fatal(
    own_server, tokens, user, token
):
    tokens.issue(token, user)
    append(own_server, user, mail("saat penyedia token gangguan"))
    channel = ImapChannel(settings(own_server, user, token), wait_seconds=0)
    tokens.down = True
    try:
        with pytest.raises(RetriableChannelError, match="cannot check logins"):
            await channel.check()
        tokens.down = False
        result = await channel.fetch(None, limit=10)
    finally:
        tokens.down = False
        await channel.close()
    assert [parse_mail(i.raw).subject for i in result.items] == [
        "saat penyedia token gangguan"
    ]


async def test_renewed_token_after_a_restart_resumes_the_channel(
    tmp_path, own_server, tokens, user, token
):
    append(own_server, user, mail("menunggu token baru"))
    app = install(tmp_path, own_server, user, token)
    try:
        stopped = await Runner(app).run_once()
    finally:
        await app.close()
    assert "login failed" in stopped.errors["surel-gmail"]
    renewed = f"{token}-baru"
    tokens.issue(renewed, user)
    app = install(tmp_path, own_server, user, renewed)
    try:
        await Runner(app).run_once()
        with app.sessions() as session:
            report = status_report(session, app.settings)
    finally:
        await app.close()
    [channel] = report["channels"]
    assert channel["cases"] == 1
    assert channel["healthy"]


# -- access tokens from a refresh token (the ``oauth2:`` block) -----------------

M365_SCOPE = "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"


@pytest.fixture
def refresh_token() -> str:
    return f"1//rahasia-segar-{uuid.uuid4().hex}"


@pytest.fixture
def client_secret() -> str:
    return f"GOCSPX-rahasia-{uuid.uuid4().hex}"


@pytest.fixture
def provider(
    tokens: TokenIntrospection, monkeypatch: pytest.MonkeyPatch
) -> TokenIntrospection:
    """The module's fake provider, its token endpoint options reset after."""
    for option in ("expires_in", "rotate", "token_down"):
        monkeypatch.setattr(tokens, option, getattr(tokens, option))
    return tokens


def refresh_settings(
    server: Dovecot, provider: TokenIntrospection, user: str, refresh_token: str
) -> ImapChannelSettings:
    return ImapChannelSettings(
        name="surel-m365",
        type="imap",
        host=server.host,
        port=server.port,
        security="none",
        username=user,
        oauth2={
            "token_url": provider.token_url,
            "client_id": "dengar",
            "refresh_token": refresh_token,
        },
        after_import="keep",
    )


def install_refreshing(
    tmp_path: Path,
    server: Dovecot,
    provider: TokenIntrospection,
    user: str,
    refresh_token: str,
    client_secret: str,
) -> App:
    # the documented setup: both secrets come from the environment
    config = f"""
database_url: sqlite:///{tmp_path / "dengar.db"}
channels:
  - name: surel-m365
    type: imap
    host: {server.host}
    port: {server.port}
    security: none
    username: {user}
    oauth2:
      token_url: {provider.token_url}
      client_id: dengar-kotabaru
      client_secret: ${{DENGAR_IMAP_CLIENT_SECRET}}
      refresh_token: ${{DENGAR_IMAP_REFRESH_TOKEN}}
      scope: {M365_SCOPE}
    after_import: flag_seen
    idle: false
agencies: [{{code: DISKOMINFO, name: Diskominfo}}]
routing: {{default_agency: DISKOMINFO}}
"""
    environ = {
        "DENGAR_IMAP_CLIENT_SECRET": client_secret,
        "DENGAR_IMAP_REFRESH_TOKEN": refresh_token,
    }
    return App.open(parse_settings(config, environ=environ))


def assert_no_secret(texts: list[str], provider: TokenIntrospection, *secrets: str):
    every = [*secrets, *provider.issued]
    every += [form.get("refresh_token", "") for form in provider.token_requests]
    for secret in filter(None, every):
        for text in texts:
            assert secret not in text


async def subjects(
    channel: ImapChannel, cursor: str | None
) -> tuple[list[str], str | None]:
    result = await channel.fetch(cursor, limit=10)
    return [parse_mail(i.raw).subject for i in result.items], result.cursor


async def test_refresh_token_logs_in_and_mail_becomes_a_case(
    tmp_path, server, provider, user, refresh_token, client_secret, caplog
):
    caplog.set_level(logging.DEBUG)
    provider.grant(refresh_token, user, "dengar-kotabaru", client_secret)
    append(server, user, mail("Saluran air tersumbat di Desa Sukamaju"))
    app = install_refreshing(
        tmp_path, server, provider, user, refresh_token, client_secret
    )
    outcome = await run_once(app, "surel-m365")
    summary, report, shown = outcome.summary, outcome.report, outcome.shown
    [case] = outcome.cases
    assert summary.errors == {}
    assert "Saluran air" in (case.subject or case.clean_text)
    [channel] = report["channels"]
    assert channel["healthy"]
    # what Google and Microsoft expect: the grant, with the client in the body
    [form] = [f for f in provider.token_requests if f["refresh_token"] == refresh_token]
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": "dengar-kotabaru",
        "client_secret": client_secret,
        "scope": M365_SCOPE,
    }
    assert provider.issued[-1] in provider.asked  # logged in with the new token
    assert_no_secret(
        [json.dumps(report), caplog.text, *shown],
        provider,
        refresh_token,
        client_secret,
    )


async def test_expired_access_token_is_renewed_before_the_next_login(
    server, provider, user, refresh_token
):
    provider.grant(refresh_token, user)
    provider.expires_in = 2
    append(server, user, mail("sebelum kedaluwarsa"))
    channel = ImapChannel(
        refresh_settings(server, provider, user, refresh_token), wait_seconds=0
    )
    try:
        first, cursor = await subjects(channel, None)
        expired = provider.issued[-1]
        await channel.close()  # the server dropped the connection, say
        await asyncio.sleep(2.1)
        append(server, user, mail("sesudah kedaluwarsa"))
        asked_before = len(provider.asked)
        second, _ = await subjects(channel, cursor)
    finally:
        await channel.close()
    assert first == ["sebelum kedaluwarsa"]
    assert second == ["sesudah kedaluwarsa"]
    # renewed ahead of time: the expired token was not even tried
    assert provider.issued[-1] != expired
    assert expired not in provider.asked[asked_before:]


async def test_refused_cached_token_is_replaced_once_and_the_login_retried(
    own_server, provider, user, refresh_token
):
    provider.grant(refresh_token, user)
    append(own_server, user, mail("pertama"))
    channel = ImapChannel(
        refresh_settings(own_server, provider, user, refresh_token), wait_seconds=0
    )
    try:
        first, cursor = await subjects(channel, None)
        await channel.close()
        # revoked (or expired early) at the provider while still in our cache
        provider.revoke(provider.issued[-1])
        requests_before = len(provider.token_requests)
        append(own_server, user, mail("kedua"))
        second, _ = await subjects(channel, cursor)
    finally:
        await channel.close()
    assert (first, second) == (["pertama"], ["kedua"])
    assert len(provider.token_requests) == requests_before + 1


async def test_rotated_refresh_token_is_used_for_the_next_refresh(
    own_server, provider, user, refresh_token, caplog
):
    caplog.set_level(logging.DEBUG)
    provider.grant(refresh_token, user)
    provider.rotate = True  # and the old refresh token stops working
    append(own_server, user, mail("sebelum rotasi"))
    channel = ImapChannel(
        refresh_settings(own_server, provider, user, refresh_token), wait_seconds=0
    )
    try:
        first, cursor = await subjects(channel, None)
        await channel.close()
        provider.revoke(provider.issued[-1])
        append(own_server, user, mail("sesudah rotasi"))
        second, _ = await subjects(channel, cursor)
    finally:
        await channel.close()
    assert (first, second) == (["sebelum rotasi"], ["sesudah rotasi"])
    configured, rotated = [f["refresh_token"] for f in provider.token_requests[-2:]]
    assert configured == refresh_token
    assert rotated != refresh_token
    assert "rotated the refresh token" in caplog.text
    assert_no_secret([caplog.text, repr(channel)], provider, refresh_token)


async def test_revoked_refresh_token_stops_the_channel_and_says_what_to_do(
    tmp_path, server, provider, user, refresh_token, client_secret, caplog
):
    caplog.set_level(logging.DEBUG)
    provider.grant(refresh_token, user, "dengar-kotabaru", client_secret)
    provider.revoke_grant(refresh_token)  # consent withdrawn, password changed
    append(server, user, mail("tidak akan terbaca"))
    app = install_refreshing(
        tmp_path, server, provider, user, refresh_token, client_secret
    )
    outcome = await run_once(app, "surel-m365")
    summary, report, shown = outcome.summary, outcome.report, outcome.shown
    cases = outcome.cases
    assert cases == []
    error = summary.errors["surel-m365"]
    assert "invalid_grant" in error
    assert "expired or been revoked" in error
    assert "oauth2.refresh_token" in error  # what to replace
    assert user in error
    [channel] = report["channels"]
    assert not channel["healthy"]
    assert "invalid_grant" in channel["disabled_reason"]
    assert_no_secret(
        [error, json.dumps(report), caplog.text, *shown],
        provider,
        refresh_token,
        client_secret,
    )


async def test_token_endpoint_outage_is_retried_then_recovers(
    server, provider, user, refresh_token
):
    provider.grant(refresh_token, user)
    append(server, user, mail("saat penyedia token gangguan"))
    channel = ImapChannel(
        refresh_settings(server, provider, user, refresh_token), wait_seconds=0
    )
    provider.token_down = True
    try:
        with pytest.raises(RetriableChannelError, match="unavailable") as caught:
            await channel.check()
        provider.token_down = False
        recovered, _ = await subjects(channel, None)
    finally:
        await channel.close()
    assert recovered == ["saat penyedia token gangguan"]
    assert refresh_token not in str(caught.value)


async def test_new_token_for_another_mailbox_is_refused_once_with_a_hint(
    own_server, provider, user, refresh_token
):
    provider.grant(refresh_token, f"{user}-lain")  # consented as someone else
    channel = ImapChannel(
        refresh_settings(own_server, provider, user, refresh_token), wait_seconds=0
    )
    try:
        with pytest.raises(FatalChannelError, match="login failed") as caught:
            await channel.check()
    finally:
        await channel.close()
    assert "is the refresh token for this mailbox" in str(caught.value)
    # a brand-new token refused: asking for another would not help
    assert (
        len([f for f in provider.token_requests if f["refresh_token"] == refresh_token])
        == 1
    )
