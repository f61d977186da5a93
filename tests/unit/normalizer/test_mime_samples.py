"""parse_mail against real third-party mail with expected parses
(tests/fixtures/email, stalwartlabs/mail-parser's expectations).

Mapping between stalwart's expectations and our record:
- text: stalwart lists the text parts of the top message (``text_body``);
  ours is those parts joined, HTML turned into text, so we compare with
  whitespace collapsed. A forwarded ``message/rfc822`` is an attachment for
  stalwart but part of our text (under "Pesan terusan") with its own
  attachments lifted into ours; so for those mails we check that each
  expected text part is contained in ours.
- attachments: stalwart's ``attachments`` minus ``message/*`` parts, plus the
  attachments of the forwarded messages; names compared as a multiset, and
  SHA-256 of the bytes for binary parts.
- ``text/enriched`` is text for us, an attachment for stalwart: excluded.
- ``x-uuencode`` parts are decoded by us (the real file), kept encoded by
  stalwart; other non-base64 bytes are compared with CRLF as LF.
- U+FFFD in stalwart's strings marks 8-bit bytes it could not decode; we
  decode them (Windows-1252), so there any character is accepted.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from normalizer.mime import parse_mail
from normalizer.text import clean_text, html_to_text
from tests.conftest import FIXTURES

DATA = FIXTURES / "email"

ALL_MAIL = sorted(DATA.rglob("*.eml"))
WITH_EXPECTED = [p for p in ALL_MAIL if p.with_suffix(".json").exists()]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _squash(text: str) -> str:
    return " ".join(clean_text(text).split())


def _matches(expected: str, actual: str) -> bool:
    pattern = ".".join(re.escape(chunk) for chunk in expected.split("\ufffd"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def _header(part: dict[str, Any], name: str):
    for header in part["headers"]:
        if header["name"] == name:
            return header["value"]
    return None


def _param(value, key: str) -> str | None:
    if not value or "ContentType" not in value:
        return None
    for attr in value["ContentType"].get("attributes") or []:
        if attr["name"] == key:
            return str(attr["value"])
    return None


def _ctype(part: dict[str, Any]) -> str:
    value = _header(part, "content_type")
    if not value:
        return "text/plain"
    ct = value["ContentType"]
    return f"{ct['c_type']}/{ct.get('c_subtype') or ''}".lower()


def _expected_attachments(doc: dict[str, Any]) -> list[tuple[str | None, bytes | None]]:
    out = []
    for index in doc["attachments"]:
        part = doc["parts"][index]
        body = part["body"]
        if isinstance(body, dict) and "Message" in body:
            out += _expected_attachments(body["Message"])
            continue
        if _ctype(part) == "text/enriched":
            continue  # text for us (see the module docstring)
        name = _param(_header(part, "content_disposition"), "filename") or _param(
            _header(part, "content_type"), "name"
        )
        data = (
            bytes(body["Binary"])
            if isinstance(body, dict) and "Binary" in body
            else None
        )
        if _ctype(part).startswith("message/"):
            data = (
                None  # external-body: the phantom header block, serialised differently
            )
        out.append((name, data))
    return out


def _has_forward(doc: dict[str, Any]) -> bool:
    return any(
        isinstance(p["body"], dict) and "Message" in p["body"] for p in doc["parts"]
    )


def _expected_texts(doc: dict[str, Any]) -> list[str]:
    texts = []
    for index in doc["text_body"]:
        body = doc["parts"][index]["body"]
        if not isinstance(body, dict):
            continue
        if "Text" in body:
            texts.append(body["Text"])
        elif "Html" in body:
            texts.append(html_to_text(body["Html"]))
    return texts


@pytest.mark.parametrize("path", ALL_MAIL, ids=_id)
def test_every_sample_parses(path: Path):
    parsed = parse_mail(path.read_bytes())
    assert parsed.text or parsed.attachments or parsed.subject


@pytest.mark.parametrize("path", WITH_EXPECTED, ids=_id)
def test_subject_and_sender_match(path: Path):
    doc = json.loads(path.with_suffix(".json").read_text())
    parsed = parse_mail(path.read_bytes())
    top = doc["parts"][0]
    subject = _header(top, "subject")
    if subject is not None:
        assert _matches(_squash(subject["Text"]), _squash(parsed.subject))
    sender = _header(top, "from")
    if sender and "Address" in sender:
        first = next(iter(sender["Address"].values()))[0]
        if first.get("address"):
            assert parsed.from_address == first["address"].lower()
        if first.get("name"):
            assert _matches(_squash(first["name"]), _squash(parsed.from_name or ""))


@pytest.mark.parametrize("path", WITH_EXPECTED, ids=_id)
def test_text_body_matches(path: Path):
    doc = json.loads(path.with_suffix(".json").read_text())
    parsed = parse_mail(path.read_bytes())
    expected = [_squash(t) for t in _expected_texts(doc) if t.strip()]
    actual = _squash(parsed.text)
    if _has_forward(doc):
        for text in expected:
            assert text in actual
    else:
        assert _matches(" ".join(expected), actual)


@pytest.mark.parametrize("path", WITH_EXPECTED, ids=_id)
def test_attachment_names_and_bytes_match(path: Path):
    doc = json.loads(path.with_suffix(".json").read_text())
    parsed = parse_mail(path.read_bytes())
    expected = _expected_attachments(doc)
    # we keep base names only: a name is shown and saved, never a path
    named = sorted(n.replace("\\", "/").split("/")[-1] for n, _ in expected if n)
    ours = sorted(a.filename for a in parsed.attachments)
    assert len(parsed.attachments) == len(expected)
    for name in named:
        # a Windows path in a quoted name: stalwart unescapes "C:\TEMP\x.png"
        # to "C:TEMPx.png" (RFC 5322 quoted-pair), we keep the base name x.png
        assert any(_matches(name, o) or name.endswith(o) for o in ours), (name, ours)
    hashes = {hashlib.sha256(a.data).hexdigest() for a in parsed.attachments}
    hashes |= {
        hashlib.sha256(a.data.replace(b"\r\n", b"\n")).hexdigest()
        for a in parsed.attachments
    }
    for _name, data in expected:
        if data is not None and not data.lstrip().startswith(b"begin "):
            assert hashlib.sha256(data).hexdigest() in hashes
