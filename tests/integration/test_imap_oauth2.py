"""XOAUTH2 (Gmail / Microsoft 365 style) against a real Dovecot whose oauth2
passdb checks bearer tokens at a local introspection endpoint
(``tests/fakes/oauth_introspect.py``)."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from channels.errors import FatalChannelError, RetriableChannelError
from channels.imap import ImapChannel
from config.channel_settings import ImapChannelSettings
from config.loader import parse_settings
from dengar.app import App
from dengar.runner import Runner
from dengar.status import status_report
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
    try:
        summary = await Runner(app).run_once()
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow)).all()
            report = status_report(session, app.settings)
        shown = [repr(app.channels["surel-gmail"]), repr(app.settings)]
    finally:
        await app.close()
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
        # Dengar does not refresh tokens: once it expires, the next login fails
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
