"""ImapChannel against a real Dovecot started by the test (see TESTING.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from email.message import EmailMessage

import pytest

from channels.imap.channel import ImapChannel
from config.channel_settings import ImapChannelSettings
from contracts.errors import FatalChannelError, RetriableChannelError
from normalizer.mime import parse_mail
from tests.fakes.dovecot import PASSWORD, Dovecot, running_dovecot

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def server():
    with running_dovecot() as dovecot:
        yield dovecot


@pytest.fixture
def own_server():
    with running_dovecot() as dovecot:
        yield dovecot


@pytest.fixture
def user():
    # a fresh mailbox per test on the shared server
    return f"warga-{uuid.uuid4().hex[:10]}"


def settings(server: Dovecot, user: str, **extra) -> ImapChannelSettings:
    values = {
        "name": "surel",
        "type": "imap",
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": user,
        "password": PASSWORD,
        "after_import": "keep",
    }
    values.update(extra)
    return ImapChannelSettings(**values)


def mail(
    subject: str, body: str = "Jalan berlubang di depan pasar.", size: int = 0
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Budi Santoso <budi@example.id>"
    msg["To"] = "pengaduan@kab.example.go.id"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.id>"
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0700"
    msg.set_content(body + ("\n" + "x" * 76) * (size // 77))
    return msg.as_bytes()


def append(server: Dovecot, user: str, *messages: bytes, folder: str = "INBOX") -> None:
    client = server.client(user)
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw)
    finally:
        client.logout()


def flags_of(
    server: Dovecot, user: str, folder: str = "INBOX"
) -> list[tuple[bytes, ...]]:
    client = server.client(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return [tuple(v[b"FLAGS"]) for v in client.fetch(uids, ["FLAGS"]).values()]
    finally:
        client.logout()


async def test_appended_mail_is_fetched_once_and_stays_unseen(server, user):
    raws = [mail("Jalan rusak"), mail("Lampu jalan mati")]
    append(server, user, *raws)
    channel = ImapChannel(settings(server, user), wait_seconds=0)
    try:
        await channel.check()
        result = await channel.fetch(None, limit=10)
        assert [i.raw.replace(b"\r\n", b"\n") for i in result.items] == [
            r.replace(b"\r\n", b"\n") for r in raws
        ]
        assert [parse_mail(i.raw).subject for i in result.items] == [
            "Jalan rusak",
            "Lampu jalan mati",
        ]
        assert all(i.raw_format == "rfc822" for i in result.items)
        assert result.items[0].external_id.startswith(parse_mail(raws[0]).message_id)
        assert result.items[0].received_at.tzinfo is not None
        assert not result.more
        cursor = json.loads(result.cursor)
        assert set(cursor) == {"INBOX"}
        assert cursor["INBOX"].endswith(":2")
        await channel.after_commit(result)

        again = await channel.fetch(result.cursor, limit=10)
        assert again.items == []
        assert again.rejected == []
    finally:
        await channel.close()
    assert all(b"\\Seen" not in flags for flags in flags_of(server, user))


async def test_batch_limit_sets_more_and_the_rest_comes_next(server, user):
    append(server, user, mail("satu"), mail("dua"), mail("tiga"))
    channel = ImapChannel(settings(server, user), wait_seconds=0)
    try:
        first = await channel.fetch(None, limit=2)
        assert len(first.items) == 2
        assert first.more
        second = await channel.fetch(first.cursor, limit=2)
        assert [parse_mail(i.raw).subject for i in second.items] == ["tiga"]
        assert not second.more
    finally:
        await channel.close()


async def test_flag_seen_marks_only_after_commit(server, user):
    append(server, user, mail("Sampah menumpuk"))
    channel = ImapChannel(
        settings(server, user, after_import="flag_seen"), wait_seconds=0
    )
    try:
        result = await channel.fetch(None, limit=10)
        assert all(b"\\Seen" not in f for f in flags_of(server, user))
        await channel.after_commit(result)
    finally:
        await channel.close()
    assert all(b"\\Seen" in f for f in flags_of(server, user))


async def test_move_files_mail_into_the_folder(server, user):
    append(server, user, mail("Banjir"), mail("Pohon tumbang"))
    channel = ImapChannel(
        settings(server, user, after_import="move:Diproses"), wait_seconds=0
    )
    try:
        result = await channel.fetch(None, limit=10)
        await channel.after_commit(result)
        assert (await channel.fetch(result.cursor, limit=10)).items == []
    finally:
        await channel.close()
    assert flags_of(server, user) == []
    assert len(flags_of(server, user, "Diproses")) == 2


async def test_several_folders_each_keep_their_own_cursor(server, user):
    append(server, user, mail("di inbox"))
    append(server, user, mail("di folder lain"), folder="Aduan")
    channel = ImapChannel(
        settings(server, user, folders=["INBOX", "Aduan"]), wait_seconds=0
    )
    try:
        result = await channel.fetch(None, limit=10)
        assert sorted(parse_mail(i.raw).subject for i in result.items) == [
            "di folder lain",
            "di inbox",
        ]
        assert set(json.loads(result.cursor)) == {"INBOX", "Aduan"}
        append(server, user, mail("baru di aduan"), folder="Aduan")
        later = await channel.fetch(result.cursor, limit=10)
        assert [parse_mail(i.raw).subject for i in later.items] == ["baru di aduan"]
    finally:
        await channel.close()


async def test_uidvalidity_change_rescans_with_the_same_external_ids(server, user):
    raws = [mail("pertama"), mail("kedua")]
    append(server, user, *raws, folder="Aduan")
    channel = ImapChannel(settings(server, user, folders=["Aduan"]), wait_seconds=0)
    try:
        before = await channel.fetch(None, limit=10)
        client = server.client(user)
        client.delete_folder("Aduan")
        client.create_folder("Aduan")
        for raw in raws:
            client.append("Aduan", raw)
        client.logout()
        after = await channel.fetch(before.cursor, limit=10)
    finally:
        await channel.close()
    assert [i.external_id for i in after.items] == [i.external_id for i in before.items]
    old_validity = json.loads(before.cursor)["Aduan"].split(":")[0]
    assert json.loads(after.cursor)["Aduan"].split(":")[0] != old_validity


async def test_oversized_mail_is_rejected_with_its_header_and_the_rest_goes_on(
    server, user
):
    big = mail("Foto besar", size=60_000)
    append(server, user, big, mail("kecil"))
    channel = ImapChannel(
        settings(server, user, max_message_bytes=20_000, after_import="move:Diproses"),
        wait_seconds=0,
    )
    try:
        result = await channel.fetch(None, limit=10)
        await channel.after_commit(result)
    finally:
        await channel.close()
    # the big one stays where the reason says; the stored one was moved
    assert len(flags_of(server, user)) == 1
    assert len(flags_of(server, user, "Diproses")) == 1
    assert [parse_mail(i.raw).subject for i in result.items] == ["kecil"]
    [rejected] = result.rejected
    assert "over max_message_bytes (20000)" in rejected.reason
    assert "'INBOX'" in rejected.reason
    assert parse_mail(rejected.raw).subject == "Foto besar"
    assert rejected.external_id.startswith(parse_mail(big).message_id)
    assert json.loads(result.cursor)["INBOX"].endswith(":2")


async def test_wrong_password_is_fatal_and_names_no_secret(server, user):
    channel = ImapChannel(
        settings(server, user, password="salah-sandi-rahasia"), wait_seconds=0
    )
    with pytest.raises(FatalChannelError, match="login failed") as caught:
        await channel.check()
    assert "salah-sandi-rahasia" not in str(caught.value)
    assert "salah-sandi-rahasia" not in repr(channel)
    with pytest.raises(FatalChannelError):
        await channel.fetch(None, limit=10)
    await channel.close()


async def test_missing_folder_is_fatal(server, user):
    channel = ImapChannel(settings(server, user, folders=["TidakAda"]), wait_seconds=0)
    with pytest.raises(FatalChannelError, match="TidakAda"):
        await channel.check()
    await channel.close()


async def test_killed_server_is_retriable_and_a_restart_recovers(own_server, user):
    append(own_server, user, mail("sebelum"))
    channel = ImapChannel(settings(own_server, user), wait_seconds=0)
    try:
        first = await channel.fetch(None, limit=10)
        assert len(first.items) == 1
        own_server.stop()
        with pytest.raises(RetriableChannelError):
            await channel.fetch(first.cursor, limit=10)
        with pytest.raises(RetriableChannelError):
            await channel.fetch(first.cursor, limit=10)  # still down: refused
        own_server.start()
        append(own_server, user, mail("sesudah"))
        again = await channel.fetch(first.cursor, limit=10)
        assert [parse_mail(i.raw).subject for i in again.items] == ["sesudah"]
    finally:
        await channel.close()


async def test_idle_wakes_on_append_from_another_connection(server, user):
    append(server, user, mail("lama"))
    channel = ImapChannel(settings(server, user, idle=True), wait_seconds=20)
    try:
        first = await channel.fetch(None, limit=10)
        assert len(first.items) == 1  # something pending: no waiting
        waiting = asyncio.create_task(channel.fetch(first.cursor, limit=10))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await asyncio.to_thread(append, server, user, mail("baru saja"))
        result = await waiting
    finally:
        await channel.close()
    # an IDLE that timed out would have returned nothing
    assert [parse_mail(i.raw).subject for i in result.items] == ["baru saja"]


async def test_xoauth2_refused_by_the_server_is_fatal(server, user):
    # this Dovecot offers only PLAIN/LOGIN, so XOAUTH2 is refused like a bad token
    values = settings(server, user).model_dump()
    values.update(password=None, oauth2_token="ya29.token-rahasia")
    channel = ImapChannel(ImapChannelSettings(**values), wait_seconds=0)
    with pytest.raises(FatalChannelError, match="login failed") as caught:
        await channel.check()
    assert "ya29" not in str(caught.value)
    await channel.close()


@pytest.fixture(scope="module")
def tls_server():
    with running_dovecot(tls=True) as dovecot:
        yield dovecot


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_with_a_trusted_certificate(
    tls_server, user, security, monkeypatch
):
    # a private CA is trusted the standard way: SSL_CERT_FILE
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.cert_file))
    append(tls_server, user, mail("lewat TLS"))
    port = tls_server.tls_port if security == "tls" else tls_server.port
    channel = ImapChannel(
        settings(tls_server, user, security=security, port=port), wait_seconds=0
    )
    try:
        result = await channel.fetch(None, limit=10)
    finally:
        await channel.close()
    assert [parse_mail(i.raw).subject for i in result.items] == ["lewat TLS"]


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_untrusted_certificate_is_fatal(tls_server, user, security):
    port = tls_server.tls_port if security == "tls" else tls_server.port
    channel = ImapChannel(
        settings(tls_server, user, security=security, port=port), wait_seconds=0
    )
    with pytest.raises(FatalChannelError, match="not trusted"):
        await channel.check()
    await channel.close()
