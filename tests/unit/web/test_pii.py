"""PII detection and masking."""

import pytest

from dengar.web.pii import find_pii, mask_pii


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("NIK saya 6302011203900004 belum aktif", ["nik"]),
        ("hubungi 0812-3456-7890 ya", ["phone"]),
        ("WA +62 812 3456 7890", ["phone"]),
        ("email budi.s@mail.co.id", ["email"]),
        ("jalan berlubang di km 12, sudah 3 bulan", []),
        ("nomor 12345678901234567 terlalu panjang", []),
    ],
)
def test_find_pii(text, kinds):
    assert find_pii(text) == kinds


def test_mask_hides_every_kind_and_keeps_the_rest():
    text = "NIK 6302011203900004, HP 081234567890, budi@contoh.id. Jalan rusak."
    masked = mask_pii(text)
    assert "6302011203900004" not in masked
    assert "081234567890" not in masked
    assert "budi@contoh.id" not in masked
    assert "[NIK ****0004]" in masked
    assert "[telepon ***890]" in masked
    assert masked.endswith("Jalan rusak.")
    assert find_pii(masked) == []
