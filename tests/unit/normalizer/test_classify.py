"""Weighted category rules."""

from __future__ import annotations

import pytest

from config.settings import CategorySettings
from normalizer.classify import classify, score_categories

CATEGORIES = [
    CategorySettings(
        name="jalan",
        keywords={"jalan rusak": 3, "berlubang": 2, "aspal": 2, "jalan": 1},
    ),
    CategorySettings(
        name="air",
        keywords={"pdam": 3, "air tidak mengalir": 3, "air keruh": 2, "bocor": 1},
    ),
    CategorySettings(
        name="sampah",
        keywords=["sampah", "tempat sampah", "bau"],  # weight 1 each
    ),
    CategorySettings(name="lampu", keywords={"lampu jalan": 3, "lampu mati": 3}),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jln rusak parah, banyak yg berlubang", ("jalan", 6.0)),
        ("PDAM: air gk ngalir udh 3 hari", ("air", 6.0)),
        ("sampah numpuk dan bau sekali", ("sampah", 2.0)),
        ("PJU di depan rumah mati", ("lampu", 3.0)),  # pju -> lampu jalan
    ],
)
def test_best_category_and_score(text, expected):
    assert classify(text, CATEGORIES) == expected


def test_no_keyword_gives_none():
    assert classify("selamat pagi, saya mau bertanya", CATEGORIES) is None
    assert classify("", CATEGORIES) is None
    assert classify("jalan rusak", []) is None


def test_keywords_match_whole_words_only():
    # "aspal" must not match inside "aspalnya"? it does not: whole words only
    assert classify("aspalnya mengelupas", CATEGORIES) is None
    assert classify("bau", CATEGORIES) == ("sampah", 1.0)
    assert classify("kebauan", CATEGORIES) is None


def test_case_and_accents_do_not_matter():
    assert classify("ÁSPAL MENGELUPAS", CATEGORIES) == ("jalan", 2.0)


def test_repeated_keyword_counts_once():
    assert classify("bau bau bau bau", CATEGORIES) == ("sampah", 1.0)


def test_tie_goes_to_the_category_listed_first():
    # "jalan" (1, jalan) vs "bau" (1, sampah): jalan is listed first
    assert classify("jalan bau", CATEGORIES) == ("jalan", 1.0)
    assert classify("jalan bau", list(reversed(CATEGORIES))) == ("sampah", 1.0)


def test_score_categories_explains_the_hits():
    ranked = score_categories("jalan rusak dan lampu jalan mati", CATEGORIES)
    assert [(c.name, c.score) for c in ranked] == [("jalan", 4.0), ("lampu", 3.0)]
    assert ranked[0].hits == ("jalan rusak", "jalan")


def test_negative_weight_can_veto_a_category():
    cats = [
        CategorySettings(name="jalan", keywords={"jalan": 1, "jalan tol": -5}),
        CategorySettings(name="lainnya", keywords={"tol": 0.5}),
    ]
    assert classify("jalan tol macet", cats) == ("lainnya", 0.5)
