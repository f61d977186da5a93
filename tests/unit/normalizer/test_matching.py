"""Text for matching and the colloquial → formal table."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer.matching import (
    SlangTableError,
    content_tokens,
    load_slang_table,
    matching_text,
    slang_table,
)

# Words that name an agency or a place must reach the matcher unchanged.
AGENCY_AND_PLACE_WORDS = {
    "pupr", "dinkes", "disdukcapil", "dishub", "dlh", "pln", "pdam", "bpbd",
    "satpol", "damkar", "diskominfo", "kominfo", "dinsos", "disdik", "rsud",
    "puskesmas", "polres", "polsek", "kotabaru", "pulau", "laut", "sebuku",
    "kelumpang", "pamukan", "hampang", "sampanahan", "semayap", "stagen",
    "dirgahayu", "baharu", "sigam", "selayar", "sembilan", "hulu", "hilir",
    "utara", "selatan", "timur", "barat", "tengah", "durian", "gedambaan",
    "sebelimbingan", "berangas", "batulicin", "tanah", "bumbu",
    # kinds of place a report names (``SMP 2`` is a school, not "sampai 2")
    "sd", "sdn", "smp", "smpn", "sma", "smk", "masjid", "pasar", "pustu",
}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jln RUSAKKK", "jalan rusak"),
        ("gk ada yg dtg", "tidak ada yang datang"),
        ("ga / gak / nggak / tdk", "tidak tidak tidak tidak"),
        ("sdh 2 bln blm diperbaiki", "sudah 2 bulan belum diperbaiki"),
        ("tlg dgn segera", "tolong dengan segera"),
        ("Maaaaf pak", "maaf bapak"),
        ("banjirrrr lagiii", "banjir lagi"),
        ("anak2 dan anak-anak", "anak dan anak"),
        ("Jalán Semayap", "jalan semayap"),
        ("\uff2a\uff2c\uff2e\u3000rusak", "jalan rusak"),  # full-width: NFKC
        ("e-KTP blm jadi", "ktp belum jadi"),
        ("jum'at kemarin", "jumat kemarin"),
    ],
)
def test_matching_text_normalises_colloquial_indonesian(raw, expected):
    assert matching_text(raw) == expected


def test_urls_mentions_emails_emoji_and_hashtag_marks_are_removed():
    text = (
        "@PemkabKotabaru lampu mati 😡🔥 lihat https://t.co/AbC123 "
        "www.contoh.id atau tulis ke budi@contoh.id #LampuMati!!!"
    )
    assert matching_text(text) == "lampu mati lihat atau tulis ke lampumati"


def test_numbers_are_kept_so_different_addresses_stay_different():
    assert matching_text("RT 05 RW 3 no. 12") == "rt 05 rw 3 nomor 12"
    assert "3" in content_tokens(matching_text("SDN 3 atapnya bocor"))


def test_content_tokens_drop_stopwords_and_single_letters():
    tokens = content_tokens(matching_text("yg di depan itu jln nya rusak x"))
    assert tokens == ["jalan", "rusak"]


def test_empty_and_punctuation_only_text_gives_empty_matching_text():
    assert matching_text("") == ""
    assert matching_text("!!! ... 😡") == ""


def test_shipped_table_is_large_and_well_formed():
    table = slang_table()
    assert len(table) >= 300
    for informal, formal in table.items():
        assert informal != formal, informal


def test_table_never_maps_an_agency_or_place_word():
    mapped = set(slang_table())
    assert not (mapped & AGENCY_AND_PLACE_WORDS)


def test_agency_and_place_words_survive_matching_text():
    for word in sorted(AGENCY_AND_PLACE_WORDS):
        assert matching_text(word.upper()) == word


def test_mapping_is_not_chained():
    # "bikin" -> "buat"; the result is not looked up again
    assert matching_text("bikin") == "buat"


def test_malformed_table_line_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "slang.tsv"
    path.write_text("# c\njln\tjalan\nrusak parah\n", encoding="utf-8")
    with pytest.raises(SlangTableError, match=r"slang.tsv:3: expected"):
        load_slang_table(path)


def test_duplicate_key_is_reported(tmp_path: Path):
    path = tmp_path / "slang.tsv"
    path.write_text("jln\tjalan\njln\tjalanan\n", encoding="utf-8")
    with pytest.raises(SlangTableError, match=r":2: 'jln' given twice"):
        load_slang_table(path)


def test_upper_case_key_is_rejected(tmp_path: Path):
    path = tmp_path / "slang.tsv"
    path.write_text("JLN\tjalan\n", encoding="utf-8")
    with pytest.raises(SlangTableError, match="one lower-case word"):
        load_slang_table(path)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_single_spaced_lower_case_tokens(text):
    result = matching_text(text)
    assert result == " ".join(result.split())
    assert result == result.casefold()
    assert "#" not in result
    assert "@" not in result


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted(slang_table())), max_size=8))
def test_matching_text_is_stable_on_its_own_output(words):
    once = matching_text(" ".join(words))
    assert matching_text(once) == once
