"""``parse_tree`` builds exactly the tree ``email.message_from_bytes``
(compat32) builds: same headers, payloads, preambles, epilogues, defects."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer import mimetree
from normalizer.mimetree import parse_tree
from tests.conftest import FIXTURES

DATA = FIXTURES / "email"
SAMPLES = sorted(DATA.rglob("*.eml"))


def shape(tree: Message) -> list[tuple[Any, ...]]:
    """Everything the parser decided, part by part."""
    return [
        (
            part.get_unixfrom(),
            list(part.raw_items()),
            vars(part).get("_payload") if not part.is_multipart() else None,
            part.preamble,
            part.epilogue,
            [type(d).__name__ for d in part.defects],
            part.get_default_type(),
        )
        for part in tree.walk()
    ]


def stdlib(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def big_mail(newline: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Warga <warga@example.id>"
    msg["Subject"] = "Jalan rusak"
    text = "\n".join(
        f"Baris {n}: jalan berlubang di desa, mohon segera diperbaiki."
        for n in range(200)
    )
    msg.set_content(text + "\n\nSubjek: ini teks, bukan header\n -- bukan batas\n")
    msg.add_alternative(f"<p>{text}</p>", subtype="html")
    msg.add_attachment(bytes(range(256)) * 40, "image", "jpeg", filename="foto.jpg")
    inner = EmailMessage()
    inner["Subject"] = "diteruskan"
    inner.set_content(text)
    msg.add_attachment(inner)
    return msg.as_bytes().replace(b"\n", newline)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_large_mail_parses_to_the_same_tree(newline: bytes) -> None:
    raw = big_mail(newline)
    assert mimetree._skeleton(raw, []) is not None  # the fast path is taken
    assert shape(parse_tree(raw)) == shape(stdlib(raw))


@pytest.mark.skipif(not SAMPLES, reason=f"no shared samples in {DATA}")
def test_every_shared_sample_parses_to_the_same_tree() -> None:
    for path in SAMPLES:
        raw = path.read_bytes()
        assert shape(parse_tree(raw)) == shape(stdlib(raw)), path.name


LINES = st.sampled_from(
    [
        b"",
        b" ",
        b"--b1",
        b"--b1--",
        b"--b2  ",
        b"--b2--",
        b"-x",
        b"From someone",
        b"Subject: x",
        b"X:y",
        b":colon first",
        b" continued",
        b"\tcontinued",
        b"Content-Type: multipart/mixed; boundary=b1",
        b'Content-Type: multipart/alternative; boundary="b2"',
        b"Content-Type: multipart/digest; boundary=b2",
        b"Content-Type: message/rfc822",
        b"Content-Type: message/delivery-status",
        b"Content-Transfer-Encoding: base64",
        b"Action: failed",
        b"plain body text",
        b"a b: looks like a header, is not",
        b"=3D=20soft=",
        b"QUJDREVGR0g=",
        b"\xff\xfe eight bit",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(LINES, min_size=1, max_size=40),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    multipart=st.booleans(),
    final_newline=st.booleans(),
)
def test_any_mix_of_lines_parses_to_the_same_tree(
    lines: list[bytes], newline: bytes, multipart: bool, final_newline: bool
) -> None:
    if multipart:
        lines = [b"Content-Type: multipart/mixed; boundary=b1", b"", *lines]
    raw = newline.join(lines) + (newline if final_newline else b"")
    # every run of plain lines becomes a placeholder, however short
    original = mimetree._MIN_RUN
    mimetree._MIN_RUN = 1
    try:
        got = parse_tree(raw)
    finally:
        mimetree._MIN_RUN = original
    assert shape(got) == shape(stdlib(raw))


@given(st.binary(max_size=3000))
def test_arbitrary_bytes_parse_to_the_same_tree(raw: bytes) -> None:
    assert shape(parse_tree(raw)) == shape(stdlib(raw))
