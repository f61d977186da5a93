"""Hostile header blocks are refused before the standard library parses
them, with the limit they broke; ordinary mail passes."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from contracts.records import InboundMessage
from normalizer.header_limits import (
    MAX_ENCODED_WORDS,
    HeaderLimitError,
    check_header_limits,
)
from normalizer.normalize import MailPolicy, normalize


def _raw(head: str, body: str = "Jalan rusak di depan pasar.") -> bytes:
    return f"{head}\r\nMessage-ID: <a@warga.example>\r\n\r\n{body}\r\n".encode()


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (
            "From: w@warga.example\r\nSubject: " + "X" * 100_000,
            "Subject header is 100,009 bytes (limit 8,192)",
        ),
        (
            "Subject: a\r\nFrom: " + "X" * 100_000 + " <w@warga.example>",
            "From header is 100,024 bytes (limit 2,048)",
        ),
        (
            # folded over many lines: the unfolded field counts
            "From: w@warga.example\r\nSubject: a" + "\r\n b" * 5_000,
            "Subject header is 10,010 bytes (limit 8,192)",
        ),
        (
            "From: w@warga.example\r\nSubject: "
            + " ".join(["=?utf-8?q?ab?="] * 30_000),
            f"header block has 30,000 encoded words (limit {MAX_ENCODED_WORDS:,})",
        ),
        (
            "From: w@warga.example\r\nReferences: "
            + " ".join(f"<id{i}@x.example>" for i in range(2_000)),
            "References header is 36,901 bytes (limit 16,384)",
        ),
    ],
)
def test_a_hostile_header_block_is_refused_with_the_limit_it_broke(
    head: str, reason: str
):
    with pytest.raises(HeaderLimitError) as raised:
        check_header_limits(_raw(head))
    assert str(raised.value) == reason


def test_a_header_block_without_end_over_the_limit_is_refused():
    with pytest.raises(HeaderLimitError, match="header block is over 1,000,000"):
        check_header_limits(b"X-Long: " + b"a" * 1_100_000)


def test_ordinary_mail_and_long_fields_dengar_does_not_decode_pass():
    mail = EmailMessage()
    mail["From"] = "Budi Santoso <budi@warga.example>"
    mail["To"] = ", ".join(f"warga{i}@example.org" for i in range(5_000))
    mail["Subject"] = "=?utf-8?q?Jalan_rusak?= di Jl. Veteran"
    mail["References"] = " ".join(f"<id{i}@x.example>" for i in range(100))
    mail.set_content("X" * 1_000_000)  # the body is not the header block
    check_header_limits(bytes(mail))


def test_normalize_refuses_before_parsing_so_the_item_is_quarantined():
    item = InboundMessage(
        channel="surat",
        external_id="hostile",
        received_at=datetime.now(UTC),
        raw=_raw("From: w@warga.example\r\nSubject: " + "X" * 100_000),
        raw_format="rfc822",
    )
    with pytest.raises(HeaderLimitError, match="Subject header is 100,009 bytes"):
        normalize(item, "ADU", MailPolicy())
