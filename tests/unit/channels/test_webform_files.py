"""Files of a web form submission: judged by content, photos re-encoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from channels.webform.files import FileRefused, clean_file
from tests.unit.web.lapor_setup import photo


def _png(mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (30, 20), (10, 200, 10, 128) if mode == "RGBA" else 0).save(
        out, "PNG"
    )
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize(
    ("name", "data", "refusal"),
    [
        ("foto.jpg", b"MZ\x90\x00" + b"\x00" * 64, "bukan foto"),
        ("surat.pdf", b"%PDF-1.4\n" + b"x" * 5000, "tidak utuh"),
        ("foto.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "rusak"),
        ("gambar.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "bukan foto"),
        ("foto.html", b"<html><script>alert(1)</script>", "bukan foto"),
    ],
)
def test_refused_by_content(name: str, data: bytes, refusal: str) -> None:
    with pytest.raises(FileRefused, match=refusal):
        clean_file(name, data, 2048)


def test_photo_reencoded_gps_read_then_gone() -> None:
    cleaned = clean_file("../../etc/IMG_1.JPG", photo((-3.25, 116.21)), 2048)
    assert cleaned.filename == "IMG_1.jpg"  # no path from the browser
    assert cleaned.gps == pytest.approx((-3.25, 116.21), abs=1e-4)
    stored = Image.open(io.BytesIO(cleaned.data))
    assert not stored.getexif()  # no GPS, no camera tags


def test_transparent_png_stays_png_and_large_photo_scaled_down() -> None:
    assert clean_file("peta.png", _png(), 2048).content_type == "image/png"
    big = clean_file("besar.jpg", photo(None, size=(3000, 1000)), 1024)
    assert Image.open(io.BytesIO(big.data)).size == (1024, 341)


def test_pdf_kept_as_sent() -> None:
    cleaned = clean_file("surat.pdf", PDF, 2048)
    assert (cleaned.content_type, cleaned.data) == ("application/pdf", PDF)


def test_a_name_saying_pdf_does_not_make_a_photo_a_pdf() -> None:
    assert clean_file("surat.pdf", photo(None), 2048).content_type == "image/jpeg"
