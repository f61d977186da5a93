"""Headers a citizen writes stay one line and cannot move the reporter's
address: encoded CR/LF, control and bidirectional characters (issue 16)."""

from __future__ import annotations

import pytest

from contracts.single_line import single_line
from normalizer.mime import parse_mail


def _mail(**headers: str) -> bytes:
    lines = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\nLampu jalan mati.\r\n").encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jalan\r\nBcc: x@jahat.example", "Jalan Bcc: x@jahat.example"),
        ("foto\u202egpj.exe", "fotogpj.exe"),
        ("a\u2066b\u2069c\u200fd\u061ce", "abcde"),
        ("a\x00b\x1bc\x7fd\x85e\u2028f\u2029g", "abcd e f g"),
        ("  banyak\t\tspasi  ", "banyak spasi"),
        ("", ""),
        (None, ""),
    ],
)
def test_single_line(text, expected):
    assert single_line(text) == expected


def test_an_encoded_crlf_in_the_subject_is_one_line():
    parsed = parse_mail(
        _mail(
            From="Budi <budi@warga.example>",
            Subject="=?utf-8?q?Jalan_rusak=0D=0ABcc:_x@jahat.example?=",
        )
    )
    assert parsed.subject == "Jalan rusak Bcc: x@jahat.example"


@pytest.mark.parametrize(
    "from_header",
    [
        # base64: "Budi\r\n<evil@jahat.example>"
        "=?utf-8?b?QnVkaQ0KPGV2aWxAamFoYXQuZXhhbXBsZT4=?= <budi@warga.example>",
        "=?utf-8?q?Budi=0D=0AFrom:_<evil@jahat.example>?= <budi@warga.example>",
        "=?utf-8?q?Budi_<evil@jahat.example>=0D=0A?= <budi@warga.example>",
        '"=?utf-8?q?Budi=0D=0A?=" <budi@warga.example>',
    ],
)
def test_an_encoded_crlf_in_the_from_name_cannot_change_the_address(from_header):
    parsed = parse_mail(
        _mail(From=from_header, Reply_To=from_header, Subject="Jalan rusak")
    )
    assert parsed.from_address == "budi@warga.example"
    assert parsed.reply_to == "budi@warga.example"
    assert parsed.from_name is not None
    assert parsed.from_name.startswith("Budi")
    assert "\r" not in parsed.from_name
    assert "\n" not in parsed.from_name


def test_a_bidi_override_in_the_from_name_is_dropped():
    parsed = parse_mail(
        _mail(From='"Siti \u202eRahma" <siti@warga.example>', Subject="x")
        .decode()
        .encode("utf-8")
    )
    assert parsed.from_name == "Siti Rahma"


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("filename*=utf-8''foto%E2%80%AEgpj.exe", "fotogpj.exe"),
        (
            "filename*=utf-8''surat%0D%0ABcc%3A%20x%40jahat.example.pdf",
            "surat Bcc: x@jahat.example.pdf",
        ),
        ('filename="=?utf-8?q?surat=0D=0ABcc:_x.pdf?="', "surat Bcc: x.pdf"),
        ("filename*=utf-8''a%E2%81%A7b%E2%81%A9.png", "ab.png"),
    ],
)
def test_attachment_names_lose_line_breaks_and_bidi_controls(disposition, expected):
    raw = (
        "From: budi@warga.example\r\nSubject: Foto\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nLampu jalan mati.\r\n"
        "--b\r\nContent-Type: image/jpeg\r\n"
        f"Content-Disposition: attachment; {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n/9g=\r\n--b--\r\n"
    )
    [attachment] = parse_mail(raw.encode()).attachments
    assert attachment.filename == expected


def test_chat_names_file_names_and_subjects_are_one_line_too():
    from datetime import UTC, datetime

    from contracts.records import InboundAttachment, InboundMessage, Reporter
    from normalizer.normalize import MailPolicy, normalize

    item = InboundMessage(
        channel="bot",
        external_id="42:7",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        raw=b"{}",
        raw_format="json",
        text="Lampu jalan mati",
        subject="Lampu\nmati",
        reporter=Reporter(name="Andi\u202e\r\nBcc: x", chat_id="42"),
        attachments=(
            InboundAttachment("surat\u202efdp.exe", "application/pdf", b"%PDF"),
            InboundAttachment("\u202e\r\n", "image/jpeg", b"\xff\xd8"),
        ),
    )
    done = normalize(item, "ADU", MailPolicy())
    assert done.subject == "Lampu mati"
    assert done.reporter.name == "Andi Bcc: x"
    assert done.reporter.chat_id == "42"
    assert [a.filename for a in done.attachments] == ["suratfdp.exe", "lampiran"]
