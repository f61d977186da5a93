"""Acknowledgements and status mails to citizens over SMTP (smtplib in a
thread; volumes are a few mails a minute, so one connection per mail).

Every mail we send is marked as automatic (``Auto-Submitted: auto-replied``,
RFC 3834), carries our ``X-Loop`` and a Message-ID in our own domain, so an
auto-responder answering it, or another Dengar, is recognised by
``normalizer.loops.ignore_reason`` and no loop starts. ``In-Reply-To`` and
``References`` point at the citizen's mail, so their reply threads.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from config.channel_settings import ImapChannelSettings
from config.common import SmtpSettings
from contracts.errors import RecipientUnreachable, ReplyRetriable
from contracts.mail_ids import loop_id_for
from contracts.records import OutgoingReply
from contracts.single_line import single_line

SUBJECT_MAX = 150
# a Message-ID as it may be written back into a header: printable ASCII only
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,995}>")
# a 5xx after DATA is about this mail, not the address: retry much later
_DATA_REJECTED_RETRY = 3600.0


def ack_text(tracking_no: str) -> str:
    """The Indonesian acknowledgement for a new case."""
    return (
        "Terima kasih. Pengaduan Anda telah kami terima dan dicatat dengan "
        f"nomor {tracking_no}.\n\n"
        "Simpan nomor ini untuk menanyakan perkembangan pengaduan Anda. Untuk "
        "menambahkan keterangan atau foto, balas email ini tanpa mengubah "
        "subjeknya.\n\n"
        "Email ini dikirim otomatis oleh layanan pengaduan."
    )


def reply_subject(reply: OutgoingReply) -> str:
    """``[ADU-XXXX-XXXX] <subject>``: the tracking number first, once."""
    # the citizen's subject, decoded: no CR/LF, controls or bidi overrides
    subject = single_line(reply.subject)
    if not subject:
        subject = "Pengaduan Anda telah diterima"
    no = reply.tracking_no
    if no and no.upper() not in subject.upper():
        subject = f"[{no}] {subject}"
    return subject[:SUBJECT_MAX]


class SmtpReplier:
    """Sends ``OutgoingReply`` mails; ``send_reply`` returns the Message-ID."""

    def __init__(
        self, smtp: SmtpSettings, message_id_domain: str | None = None
    ) -> None:
        self.smtp = smtp
        self.domain = (message_id_domain or smtp.from_address.rsplit("@", 1)[1]).lower()
        self.loop_id = loop_id_for(self.domain)

    @classmethod
    def from_imap_settings(cls, settings: ImapChannelSettings) -> SmtpReplier:
        """The replier of an IMAP channel's ``smtp:`` block."""
        if settings.smtp is None:
            raise ReplyRetriable(
                f"channel {settings.name!r} has no smtp: block; cannot send replies"
            )
        return cls(settings.smtp, settings.message_id_domain)

    def __repr__(self) -> str:
        return (
            f"SmtpReplier(host={self.smtp.host!r}, port={self.smtp.effective_port}, "
            f"from={self.smtp.from_address!r})"
        )

    def build(self, reply: OutgoingReply) -> EmailMessage:
        """The mail for ``reply`` (also used by tests and the bench)."""
        msg = EmailMessage()
        try:
            msg["To"] = reply.recipient
        except (ValueError, IndexError) as exc:
            raise RecipientUnreachable(f"not an email address: {exc}") from None
        if "@" not in reply.recipient or any(c in reply.recipient for c in "\r\n"):
            raise RecipientUnreachable(f"not an email address: {reply.recipient!r}")
        msg["From"] = formataddr((self.smtp.from_name, self.smtp.from_address))
        msg["Subject"] = reply_subject(reply)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.domain)
        if reply.in_reply_to and _MESSAGE_ID.fullmatch(reply.in_reply_to):
            msg["In-Reply-To"] = reply.in_reply_to
            msg["References"] = reply.in_reply_to
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"  # keeps Exchange from answering
        msg["X-Loop"] = self.loop_id
        msg["Content-Language"] = "id"
        text = reply.text or (ack_text(reply.tracking_no) if reply.tracking_no else "")
        msg.set_content(text)
        return msg

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Send; return our Message-ID. ``RecipientUnreachable`` when the
        server refuses the address for good (5xx), ``ReplyRetriable``
        otherwise (connection, 4xx, authentication)."""
        msg = self.build(reply)
        await asyncio.to_thread(self._send, msg, reply.recipient)
        return str(msg["Message-ID"])

    def _send(self, msg: EmailMessage, recipient: str) -> None:
        s = self.smtp
        try:
            with self._connect() as client:
                if s.username and s.password is not None:
                    client.login(s.username, s.password.get_secret_value())
                client.send_message(msg, from_addr=s.from_address, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            detail = _detail(code, text)
            if 500 <= code < 600:
                raise RecipientUnreachable(f"{recipient} refused: {detail}") from None
            raise ReplyRetriable(f"{recipient} deferred: {detail}") from None
        except smtplib.SMTPAuthenticationError as exc:
            detail = _detail(exc.smtp_code, exc.smtp_error)
            raise ReplyRetriable(f"SMTP login to {s.host} failed: {detail}") from None
        except smtplib.SMTPDataError as exc:
            retry = _DATA_REJECTED_RETRY if 500 <= exc.smtp_code < 600 else None
            raise ReplyRetriable(
                f"mail refused after DATA: {_detail(exc.smtp_code, exc.smtp_error)}",
                retry_after=retry,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise ReplyRetriable(
                f"SMTP error: {_detail(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ReplyRetriable(
                f"SMTP connection to {s.host}:{s.effective_port} failed: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from None

    async def check(self) -> None:
        """Connect and log in as a send would, then leave; raises
        ``ReplyRetriable`` saying what failed (never the password)."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        s = self.smtp
        try:
            with self._connect() as client:
                if s.username and s.password is not None:
                    client.login(s.username, s.password.get_secret_value())
                client.noop()
        except smtplib.SMTPAuthenticationError as exc:
            detail = _detail(exc.smtp_code, exc.smtp_error)
            raise ReplyRetriable(
                f"login to {s.host}:{s.effective_port} as {s.username!r} refused: "
                f"{detail}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ReplyRetriable(
                f"{s.host}:{s.effective_port} offers no AUTH (security: {s.security})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ReplyRetriable(
                f"connection to {s.host}:{s.effective_port} failed: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        context = ssl.create_default_context()
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host, s.effective_port, timeout=s.timeout, context=context
            )
        client = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
        if s.security == "starttls":
            try:
                client.starttls(context=context)
            except BaseException:
                client.close()
                raise
        return client

    async def close(self) -> None:
        """Nothing is kept open between mails."""


def _detail(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"[:300]
