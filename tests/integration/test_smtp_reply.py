"""Acknowledgements over SMTP to a real aiosmtpd server."""

from __future__ import annotations

import pytest

from channels.imap.channel import ImapChannel
from channels.imap.smtp import SmtpReplier
from config.channel_settings import ImapChannelSettings
from config.common import SmtpSettings
from contracts.errors import RecipientUnreachable, ReplyRetriable
from contracts.records import OutgoingReply
from contracts.tracking import find_tracking_numbers
from normalizer.loops import ignore_reason
from normalizer.mime import parse_mail
from tests.fakes.smtp import running_smtp
from tests.services import free_port

CITIZEN_MID = "<abc123@mail.example.id>"


@pytest.fixture
def smtp():
    with running_smtp() as server:
        yield server


def replier(server, **extra) -> SmtpReplier:
    settings = SmtpSettings(
        host=server.host,
        port=server.port,
        security="none",
        from_address="pengaduan@kab.example.go.id",
        timeout=5,
        **extra,
    )
    return SmtpReplier(settings, message_id_domain="dengar.kab.example.go.id")


def ack(recipient="budi@example.id", **extra) -> OutgoingReply:
    values = {
        "channel": "surel",
        "recipient": recipient,
        "text": "",
        "subject": "Jalan rusak di Desa Sukamaju",
        "in_reply_to": CITIZEN_MID,
        "tracking_no": "ADU-7K3M-9Q2D",
    }
    values.update(extra)
    return OutgoingReply(**values)


async def test_ack_carries_tracking_number_threading_and_loop_headers(smtp):
    message_id = await replier(smtp).send_reply(ack())
    [got] = smtp.sink.received
    assert got.rcpt_tos == ["budi@example.id"]
    msg = got.message
    assert msg["Subject"] == "[ADU-7K3M-9Q2D] Jalan rusak di Desa Sukamaju"
    assert msg["Message-ID"] == message_id
    assert message_id.endswith("@dengar.kab.example.go.id>")
    assert msg["In-Reply-To"] == CITIZEN_MID
    assert msg["References"] == CITIZEN_MID
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Loop"] == "dengar@dengar.kab.example.go.id"
    body = msg.get_content()
    assert "ADU-7K3M-9Q2D" in body
    assert "telah kami terima" in body


async def test_given_text_is_sent_and_tracking_number_not_doubled(smtp):
    reply = ack(
        text="Status pengaduan Anda: selesai.", subject="Re: [ADU-7K3M-9Q2D] Jalan"
    )
    await replier(smtp).send_reply(reply)
    msg = smtp.sink.received[0].message
    assert msg["Subject"] == "Re: [ADU-7K3M-9Q2D] Jalan"
    assert msg.get_content().strip() == "Status pengaduan Anda: selesai."


async def test_our_ack_coming_back_is_ignored_not_answered(smtp):
    """Two Dengar-like responders must not loop: our own mail, or an
    auto-reply to it, is recognised as not a complaint."""
    await replier(smtp).send_reply(ack())
    raw = smtp.sink.received[0].raw
    parsed = parse_mail(raw)
    reason = ignore_reason(
        parsed.headers,
        parsed.from_address,
        parsed.subject,
        own_domains=("dengar.kab.example.go.id",),
        own_loop_ids=("dengar@dengar.kab.example.go.id",),
    )
    assert reason is not None
    # another installation (different domain) still sees Auto-Submitted
    other = ignore_reason(parsed.headers, parsed.from_address, parsed.subject)
    assert other is not None
    assert "Auto-Submitted" in other


async def test_citizen_reply_to_ack_threads_by_id_and_subject(smtp):
    message_id = await replier(smtp).send_reply(ack())
    sent = smtp.sink.received[0].message
    answer = (
        "From: Budi <budi@example.id>\r\nTo: pengaduan@kab.example.go.id\r\n"
        f"Subject: Re: {sent['Subject']}\r\nIn-Reply-To: {message_id}\r\n"
        f"References: {CITIZEN_MID} {message_id}\r\n"
        "Message-ID: <balas1@mail.example.id>\r\n\r\nIni fotonya.\r\n"
    ).encode()
    parsed = parse_mail(answer)
    assert parsed.references[0] == message_id
    assert find_tracking_numbers(parsed.subject, "ADU") == ["ADU-7K3M-9Q2D"]
    assert ignore_reason(parsed.headers, parsed.from_address, parsed.subject) is None


async def test_refused_recipient_is_unreachable(smtp):
    smtp.sink.refuse["hilang@example.id"] = (
        "550 5.1.1 <hilang@example.id>: no such user"
    )
    with pytest.raises(RecipientUnreachable, match="550"):
        await replier(smtp).send_reply(ack("hilang@example.id"))
    assert smtp.sink.received == []


async def test_deferred_recipient_is_retriable(smtp):
    smtp.sink.refuse["penuh@example.id"] = "452 4.2.2 mailbox full"
    with pytest.raises(ReplyRetriable, match="452"):
        await replier(smtp).send_reply(ack("penuh@example.id"))


async def test_server_down_is_retriable():
    settings = SmtpSettings(
        host="127.0.0.1",
        port=free_port(),
        security="none",
        from_address="pengaduan@kab.example.go.id",
        timeout=5,
    )
    with pytest.raises(ReplyRetriable, match="connection"):
        await SmtpReplier(settings).send_reply(ack())


async def test_not_an_address_is_unreachable(smtp):
    with pytest.raises(RecipientUnreachable):
        await replier(smtp).send_reply(ack("budi@example.id\r\nBcc: semua@example.id"))
    assert smtp.sink.received == []


async def test_login_is_used_and_a_wrong_password_is_retriable_without_leaking():
    with running_smtp(user="dengar", password="benar") as server:
        await replier(server, username="dengar", password="benar").send_reply(ack())
        assert len(server.sink.received) == 1
        with pytest.raises(ReplyRetriable, match="login") as caught:
            await replier(server, username="dengar", password="keliru-x").send_reply(
                ack()
            )
        assert "keliru-x" not in str(caught.value)


async def test_imap_channel_sends_through_its_smtp_block(smtp):
    settings = ImapChannelSettings(
        name="surel",
        type="imap",
        host="127.0.0.1",
        username="u",
        password="p",
        message_id_domain="dengar.kab.example.go.id",
        smtp={
            "host": smtp.host,
            "port": smtp.port,
            "security": "none",
            "from_address": "pengaduan@kab.example.go.id",
        },
    )
    channel = ImapChannel(settings, wait_seconds=0)
    message_id = await channel.send_reply(ack())
    await channel.close()
    assert smtp.sink.received[0].message["Message-ID"] == message_id


async def test_a_hostile_subject_and_message_id_stay_out_of_the_headers(smtp):
    await replier(smtp).send_reply(
        ack(
            subject="Jalan rusak\r\nBcc: x@jahat.example \u202efdp.exe",
            in_reply_to="<abc@mail.example>\r\nBcc: y@jahat.example",
        )
    )
    [got] = smtp.sink.received
    assert got.rcpt_tos == ["budi@example.id"]
    msg = got.message
    assert msg["Subject"] == "[ADU-7K3M-9Q2D] Jalan rusak Bcc: x@jahat.example fdp.exe"
    assert msg["Bcc"] is None
    assert msg["In-Reply-To"] is None  # not a Message-ID: not written back


async def test_check_logs_in_and_reports_a_refused_auth_without_the_password():
    from dengar.checks import check_reply_side

    with running_smtp(user="dengar", password="benar") as server:

        def channel(password: str) -> ImapChannelSettings:
            return ImapChannelSettings(
                name="surel",
                type="imap",
                host="127.0.0.1",
                username="u",
                password="p",
                smtp={
                    "host": server.host,
                    "port": server.port,
                    "security": "none",
                    "username": "dengar",
                    "password": password,
                    "from_address": "pengaduan@kab.example.go.id",
                },
            )

        assert await check_reply_side(channel("benar")) is None
        problem = await check_reply_side(channel("keliru-x"))
        assert problem is not None
        assert problem.startswith("smtp: login to 127.0.0.1:")
        assert "'dengar' refused" in problem
        assert "keliru-x" not in problem
        assert server.sink.received == []  # checking sends nothing


async def test_check_reaches_each_sink_endpoint():
    from config.settings import AgencySettings
    from dengar.checks import check_sink

    port = free_port()  # nobody listens there
    hook = AgencySettings.model_validate(
        {
            "code": "PUPR",
            "name": "Dinas PUPR",
            "sink": {
                "type": "webhook",
                "url": f"http://127.0.0.1:{port}/in",
                "secret": "s" * 32,
            },
        }
    )
    problem = await check_sink(hook)
    assert problem is not None
    assert problem.startswith(f"sink.url: cannot connect to 127.0.0.1:{port}")
    secret = AgencySettings.model_validate(
        {
            "code": "DLH",
            "name": "DLH",
            "sink": {"type": "redis", "url": f"redis://:sandi-redis@127.0.0.1:{port}"},
        }
    )
    problem = await check_sink(secret)
    assert problem is not None
    assert "sandi-redis" not in problem
    lapor = AgencySettings.model_validate(
        {
            "code": "LAPOR",
            "name": "SP4N-LAPOR!",
            "sink": {
                "type": "http",
                "url": f"http://127.0.0.1:{port}/laporan/{{{{ tracking_no }}}}",
            },
        }
    )
    problem = await check_sink(lapor)
    assert problem is not None
    assert problem.startswith(f"sink.url: cannot connect to 127.0.0.1:{port}")
    with running_smtp(user="dengar", password="benar") as server:
        mail = AgencySettings.model_validate(
            {
                "code": "DINKES",
                "name": "Dinkes",
                "sink": {
                    "type": "email",
                    "to": ["dinkes@kab.example.go.id"],
                    "smtp": {
                        "host": server.host,
                        "port": server.port,
                        "security": "none",
                        "username": "dengar",
                        "password": "benar",
                        "from_address": "dengar@kab.example.go.id",
                    },
                },
            }
        )
        assert await check_sink(mail) is None


def test_check_warns_about_channels_that_cannot_reply():
    from config.loader import load_settings
    from dengar.checks import cannot_reply
    from tests.conftest import REPO

    settings = load_settings(REPO / "config" / "dengar.example.yaml")
    warnings = cannot_reply(settings, repliers=set())
    assert "a maildir channel cannot reply" in warnings["contoh-maildir"]
    assert "email-pengaduan" not in warnings  # disabled in the example
