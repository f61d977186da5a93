"""The ``email`` sink: a readable Indonesian email to the agency's address.

For agencies that only read mail. The subject carries the tracking number,
the body the case as a person reads it (a ``redacted`` event: a request, in
the thread of the first mail, to remove the reporter's identity, with the
case again under its new confidentiality), the files the case came with are
attached, and the message itself rides along as ``pengaduan-<no>.json`` for
anyone who later wants to import it. ``Message-ID`` is derived from the
idempotency key, so a re-send after a crash has the same Message-ID and mail
clients and archives can fold the two.

smtplib runs in a worker thread (``asyncio.to_thread``); one connection per
delivery, which is plenty for the volume an agency's inbox can read.

Errors: the server refusing the recipients, sender or content with a 5xx is
permanent (kept for the dead-letter view); 4xx answers, authentication
failures (a password being rotated is not this case's fault), timeouts and
connection errors are retried.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from config.common import SmtpSettings
from config.localtime import local_time
from config.settings import AgencySettings
from config.sink_settings import EmailSinkSettings
from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from contracts.single_line import single_line
from dispatcher.message import REDACTED
from dispatcher.sinks.base import Delivery, SinkContext, settings_of

_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")

_LABELS = {
    "biasa": "biasa",
    "anonim": "ANONIM: identitas pelapor dirahasiakan",
    "rahasia": "RAHASIA: jangan disebarluaskan; identitas pelapor dirahasiakan",
}


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """The ``Message-ID`` of a delivery: the same for every re-send."""
    domain = from_address.rsplit("@", 1)[-1]
    local = _NOT_ATEXT.sub("-", idempotency_key.replace("/", ".")).strip(".")
    return f"<dengar.{local}@{domain}>"


def compose(
    delivery: Delivery,
    settings: EmailSinkSettings,
    agency_name: str,
    timezone: str = "Asia/Makassar",
) -> EmailMessage:
    """The email for ``delivery`` (confidentiality was applied in the message)."""
    m = delivery.message
    redaction = delivery.event == REDACTED
    mail = EmailMessage()
    mail["From"] = settings.smtp.from_address
    mail["To"] = ", ".join(settings.to)
    mail["Subject"] = _redaction_subject(m) if redaction else _subject(m)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id_for(
        delivery.idempotency_key, settings.smtp.from_address
    )
    # our own loop protection and the agency's filters both key on these
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Dengar-Tracking-No"] = single_line(str(m.get("tracking_no", "")))
    mail["X-Dengar-Idempotency-Key"] = delivery.idempotency_key
    if redaction:
        # a reply in the thread of the case's first mail, for the clients
        # that fold a conversation
        original = message_id_for(
            str((m.get("redaction") or {}).get("replaces") or ""),
            settings.smtp.from_address,
        )
        mail["In-Reply-To"] = original
        mail["References"] = original
        mail.set_content(_redaction_body(m, agency_name))
    else:
        mail.set_content(_body(m, agency_name, timezone))
    for attachment in [] if redaction else m.get("attachments", []):
        data = delivery.attachments.get(attachment.get("sha256", ""))
        if data is None:
            continue
        maintype, _, subtype = str(attachment["content_type"]).partition("/")
        if not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=_filename(attachment),
        )
    mail.add_attachment(
        json.dumps(m, ensure_ascii=False, indent=2).encode(),
        maintype="application",
        subtype="json",
        filename=f"pengaduan-{m.get('tracking_no', 'kasus')}.json",
    )
    return mail


def _subject(m: dict[str, Any]) -> str:
    # a subject decoded from "=?utf-8?q?…=0D=0A…?=" must not end the header
    # (the mail library refuses it, and the delivery would retry until dead)
    topic = _line(m.get("subject")) or _line(m.get("category"))
    prefix = "[RAHASIA] " if m.get("confidentiality") == "rahasia" else ""
    return single_line(
        f"{prefix}[{m.get('tracking_no')}] Pengaduan baru: "
        f"{topic or 'pengaduan masyarakat'}"
    )


def _line(value: object) -> str:
    return single_line(str(value)) if value else ""


def _filename(attachment: dict[str, Any]) -> str:
    """The name the agency sees: one line, no bidi controls (whatever channel
    it came from), else the start of the content hash."""
    return _line(attachment.get("filename")) or str(attachment["sha256"])[:12]


def _body(m: dict[str, Any], agency_name: str, timezone: str) -> str:
    lines = [
        f"Yth. {agency_name},",
        "",
        "Berikut pengaduan masyarakat yang diteruskan kepada instansi Anda.",
        "",
        f"Nomor pelacakan : {m.get('tracking_no')}",
        f"Diterima        : {local_time(m.get('received_at'), timezone)}",
        f"Kanal           : {m.get('channel')}",
        f"Kategori        : {m.get('category') or '-'}",
        f"Wilayah         : {m.get('region') or '-'}",
        f"Kerahasiaan     : {_LABELS.get(str(m.get('confidentiality')), '-')}",
        f"Status          : {_line(m.get('status_text')) or '-'}",
    ]
    if _line(m.get("routing_reason_text")):
        lines.append(f"Alasan penerusan: {_line(m['routing_reason_text'])}")
    if _line(m.get("subject")):
        lines.append(f"Perihal         : {_line(m['subject'])}")
    location = m.get("location")
    if location:
        where = f"{location['latitude']}, {location['longitude']}"
        if location.get("label"):
            where = f"{location['label']} ({where})"
        lines.append(f"Lokasi          : {where}")
        lines.append(
            "                  https://www.openstreetmap.org/?mlat="
            f"{location['latitude']}&mlon={location['longitude']}"
        )
    reporter = m.get("reporter")
    if reporter:
        who = [
            _line(reporter.get(k)) for k in ("name", "handle") if _line(reporter.get(k))
        ]
        contact = [
            _line(reporter.get(k)) for k in ("email", "phone") if _line(reporter.get(k))
        ]
        lines.append(f"Pelapor         : {', '.join(who) or '-'}")
        if contact:
            lines.append(f"Kontak pelapor  : {', '.join(contact)}")
    if m.get("supporters"):
        lines.append(f"Laporan serupa  : {m['supporters']} warga lain")
        for other in m.get("supporter_reports", []):
            lines.append(
                f"                  - {local_time(other['received_at'], timezone)} "
                "melalui "
                f"{other['channel']} ({other['tracking_no'] or '-'})"
            )
    lines += ["", "Isi pengaduan:", "", _indent(str(m.get("text", ""))), ""]
    for follow_up in m.get("follow_ups", []):
        lines += [
            "Tambahan dari pelapor "
            f"({local_time(follow_up['received_at'], timezone)}):",
            "",
            _indent(follow_up["text"]),
            "",
        ]
    files = m.get("attachments", [])
    if files:
        lines.append("Lampiran:")
        for f in files:
            note = "" if f.get("stored", True) else " (terlalu besar, tidak disimpan)"
            lines.append(f"  - {_filename(f)} ({f['size']} bita){note}")
        lines.append("")
    lines += [
        "Mohon tindak lanjuti dan laporkan perkembangannya dengan menyebut "
        f"nomor {m.get('tracking_no')}.",
        "",
        "Surel ini dikirim otomatis oleh Dengar. Jika surel yang sama datang dua "
        "kali, abaikan yang kedua (Message-ID-nya sama).",
    ]
    return "\n".join(lines) + "\n"


def _redaction_subject(m: dict[str, Any]) -> str:
    return (
        f"[{m.get('tracking_no')}] Permintaan penghapusan identitas pelapor "
        "(pengaduan kini bersifat "
        f"{str(m.get('confidentiality') or 'anonim').upper()})"
    )


def _redaction_body(m: dict[str, Any], agency_name: str) -> str:
    redaction = m.get("redaction") or {}
    lines = [
        f"Yth. {agency_name},",
        "",
        f"Pengaduan nomor {m.get('tracking_no')} telah kami teruskan kepada "
        "instansi Anda. Setelah itu pelapor meminta agar identitasnya "
        "dirahasiakan; pengaduan ini kini bersifat "
        f"{_LABELS.get(str(m.get('confidentiality')), '-')}.",
        "",
        "Mohon:",
        "  1. hapus nama, alamat surel, nomor telepon, akun media sosial, dan "
        "data pribadi lain pelapor dari surel sebelumnya dan dari sistem "
        "instansi Anda;",
        "  2. jangan menghubungi pelapor secara langsung; sampaikan tindak "
        "lanjut melalui nomor pelacakan di atas;",
        "  3. gunakan isi pengaduan di bawah ini (data pribadi sudah "
        "disamarkan) sebagai penggantinya.",
        "",
        f"Nomor pelacakan : {m.get('tracking_no')}",
        f"Diterima        : {m.get('received_at')}",
        f"Kategori        : {m.get('category') or '-'}",
        f"Wilayah         : {m.get('region') or '-'}",
        "",
        "Isi pengaduan:",
        "",
        _indent(str(m.get("text", ""))),
        "",
    ]
    for follow_up in m.get("follow_ups", []):
        lines += [
            f"Tambahan dari pelapor ({follow_up['received_at']}):",
            "",
            _indent(follow_up["text"]),
            "",
        ]
    lines += [
        "Permintaan ini dicatat pada "
        f"{redaction.get('requested_at', '-')}. Terima kasih atas kerja sama "
        "Anda menjaga kerahasiaan pelapor.",
        "",
        "Surel ini dikirim otomatis oleh Dengar.",
    ]
    return "\n".join(lines) + "\n"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


class EmailSink:
    """Sends each delivery as an email through the configured SMTP server."""

    def __init__(self, agency: AgencySettings, context: SinkContext) -> None:
        settings = settings_of(agency, EmailSinkSettings)
        self.agency = agency
        self.settings = settings
        self.timezone = context.timezone

    def __repr__(self) -> str:
        smtp = self.settings.smtp
        return (
            f"EmailSink(agency={self.agency.code!r}, "
            f"smtp={smtp.host}:{smtp.effective_port}, to={self.settings.to!r})"
        )

    async def deliver(self, delivery: Delivery) -> None:
        """Send the email; return once the SMTP server accepted it."""
        mail = compose(delivery, self.settings, self.agency.name, self.timezone)
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: EmailMessage) -> None:
        smtp = self.settings.smtp
        where = f"smtp {smtp.host}:{smtp.effective_port}"
        try:
            with _connect(smtp) as client:
                if smtp.username and smtp.password is not None:
                    client.login(smtp.username, smtp.password.get_secret_value())
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(
                f"{rcpt}: {code} {_text(msg)}"
                for rcpt, (code, msg) in exc.recipients.items()
            )
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise PermanentDeliveryError(
                    f"{where} refused every recipient", detail=answers
                ) from None
            raise RetriableDeliveryError(
                f"{where}: recipients deferred: {answers}"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise RetriableDeliveryError(
                f"{where}: login as {smtp.username!r} failed ({exc.smtp_code})"
            ) from None
        except smtplib.SMTPResponseException as exc:
            # sender refused, content refused (size, virus, policy), or HELO
            detail = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise PermanentDeliveryError(
                    f"{where} refused the message", detail=detail
                ) from None
            raise RetriableDeliveryError(f"{where}: {detail}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RetriableDeliveryError(
                f"{where}: {type(exc).__name__}: {exc}"
            ) from None

    async def close(self) -> None:
        """Nothing to release: one connection per delivery."""


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    port = smtp.effective_port
    if smtp.security == "tls":
        return smtplib.SMTP_SSL(
            smtp.host, port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    client = smtplib.SMTP(smtp.host, port, timeout=smtp.timeout)
    if smtp.security == "starttls":
        try:
            client.starttls(context=ssl.create_default_context())
        except BaseException:
            client.close()
            raise
    return client


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
