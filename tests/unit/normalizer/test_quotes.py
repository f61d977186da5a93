"""strip_quotes: the quoted original and reply headers go, the answer stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from normalizer.mime import parse_mail
from normalizer.quotes import strip_quotes
from normalizer.text import html_to_text
from tests.conftest import FIXTURES

REPLIES = FIXTURES / "email" / "replies"

TALON_MAIL = sorted(REPLIES.rglob("*.eml"))
TALON_HTML = sorted(REPLIES.rglob("*.html"))


@pytest.mark.parametrize("path", TALON_MAIL, ids=lambda p: p.name)
def test_talon_mail_replies_lose_the_quoted_original(path: Path):
    original = parse_mail(path.read_bytes()).text
    stripped = strip_quotes(original)
    assert stripped
    assert len(stripped) < len(original)
    for gone in ("wrote:", "написал", "Original Message", "Subject:", "\n>"):
        assert gone not in stripped
    if path.name != "reply-quotations-share-block.eml":
        assert stripped == "Hello"
    else:
        assert stripped.startswith("Hi Katharine.")
        assert "booking inquiry" not in stripped


@pytest.mark.parametrize("path", TALON_HTML, ids=lambda p: p.name)
def test_talon_html_replies_lose_the_quoted_original(path: Path):
    text = html_to_text(path.read_text(encoding="utf-8", errors="replace"))
    stripped = strip_quotes(text)
    assert "How are you" not in stripped
    assert "Hello" not in stripped or path.name == "reply-separated-by-hr.html"
    assert stripped.startswith(("Hi. I am fine.", "Hi\nthere"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Lampu jalan masih mati.\n\nPada Sen, 2 Des 2026 pukul 09.15, Pengaduan "
            "Kab <pengaduan@kab.go.id> menulis:\n"
            "> Terima kasih, pengaduan Anda\n> ADU-1",
            "Lampu jalan masih mati.",
        ),
        (
            "Sudah diperbaiki?\n\nPada tanggal Sel, 3 Des 2026 10:00, Budi\n"
            "<budi@example.id> menulis:\n\n> Jalan rusak",
            "Sudah diperbaiki?",
        ),
        (
            "Mohon ditindaklanjuti.\n\n-----Pesan Asli-----\nDari: Budi\nDikirim: "
            "Senin\nKepada: pengaduan\nSubjek: Jalan\n\nJalan rusak parah",
            "Mohon ditindaklanjuti.",
        ),
        (
            "Mohon dicek.\n\nDari: Layanan Pengaduan <pengaduan@kab.go.id>\n"
            "Tanggal: Senin, 2 Desember 2026\nKepada: budi@example.id\n"
            "Perihal: [ADU-7K3M-9Q2D] Jalan\n\nTerima kasih",
            "Mohon dicek.",
        ),
        (
            "Sampah belum diangkut.\n\nDikirim dari iPhone saya",
            "Sampah belum diangkut.",
        ),
        ("Air PDAM mati.\n\nSent from my Galaxy", "Air PDAM mati."),
        ("Banjir di RT 03.\n\n-- \nBudi Santoso\nKetua RT 03", "Banjir di RT 03."),
        (
            "Jalan berlubang.\n\n________________________________\nFrom: Budi\n"
            "Sent: Monday\nTo: Dinas\nSubject: Jalan\n\nteks lama",
            "Jalan berlubang.",
        ),
    ],
)
def test_indonesian_and_outlook_forms(text, expected):
    assert strip_quotes(text) == expected


def test_inline_answers_between_quotes_are_kept():
    text = (
        "On Mon, Dec 2, 2026 at 9:00 AM Dinas <dinas@kab.go.id> wrote:\n"
        "> Di mana lokasinya?\n"
        "Di depan SD Negeri 1.\n"
        "> Sejak kapan?\n"
        "Sejak minggu lalu."
    )
    assert strip_quotes(text) == "Di depan SD Negeri 1.\nSejak minggu lalu."


def test_a_forwarded_message_is_content_not_a_quote():
    text = (
        "Tolong ditindaklanjuti.\n\n---------- Forwarded message ---------\n"
        "From: Warga <warga@example.id>\nDate: Mon, 2 Dec 2026\n"
        "Subject: Jembatan retak\nTo: Budi <budi@example.id>\n\nJembatan di desa retak."
    )
    assert "Jembatan di desa retak." in strip_quotes(text)


def test_our_own_forward_marker_is_kept():
    text = (
        "Lihat di bawah.\n\n---------- Pesan terusan ----------\nDari: Ani <ani@x.id>\n"
        "Tanggal: Mon, 2 Dec 2026\nSubjek: Jembatan\n\nJembatan retak."
    )
    assert "Jembatan retak." in strip_quotes(text)


def test_all_quoted_text_is_returned_as_is_rather_than_empty():
    text = "> hanya kutipan\n> tanpa jawaban"
    assert strip_quotes(text) == text


def test_plain_text_is_unchanged():
    text = "Jalan di Desa Sukamaju rusak.\n\nMohon segera diperbaiki. Terima kasih."
    assert strip_quotes(text) == text
