"""The index built in bulk at start (``add_many``) is the index the live
pipeline builds case by case: the same candidates, links and typo
neighbours, so a restart never changes a decision."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe import search as dedupe_search
from normalizer.dedupe.index import DedupeCase, DuplicateIndex
from normalizer.dedupe.keys import SlipFinder, slips

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STREETS = ["pinus", "mawar", "melati", "kenanga", "flamboyan", "cempaka"]
DESA = ["semayap", "berangas", "stagen", "sebelimbingan", "dirgahayu"]
PROBLEMS = [
    "jalan {s} desa {d} rusak berlubang motor jatuh",
    "lampu jalan {s} rt {n} desa {d} mati gelap",
    "selokan jalan {s} desa {d} tersumbat air meluap rt {n}",
    "sampah menumpuk jalan {s} desa {d} tidak diangkut",
]


def slip(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return (
        word[:i] + word[i + 1 :]
        if rng.random() < 0.5
        else word[:i] + word[i] + word[i:]
    )


def reporter(rng: random.Random) -> frozenset[str]:
    # forty people, some writing from a chat and sharing their phone too,
    # which joins two identities into one person
    person = rng.randrange(40)
    keys = {f"chat:tg:{person}"}
    if rng.random() < 0.2:
        keys.add(f"phone:62812{person:04d}")
    if rng.random() < 0.1:
        keys = {f"phone:62812{person:04d}"}
    return frozenset(keys)


def corpus(n: int, seed: int = 3) -> list[DedupeCase]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = (
            rng.choice(PROBLEMS)
            .format(s=rng.choice(STREETS), d=rng.choice(DESA), n=rng.randint(1, 9))
            .split()
        )
        if rng.random() < 0.3:  # a typo, often of a street or a village
            k = rng.randrange(len(words))
            if len(words[k]) >= 4:
                words[k] = slip(rng, words[k])
        out.append(
            DedupeCase(
                id=i + 1,
                text=" ".join(words),
                received_at=T0 + timedelta(minutes=i),
                category=rng.choice(["jalan", "lampu", None]),
                region=rng.choice(["pulau laut utara", None]),
                reporter=reporter(rng),
                tracking_no=f"ADU-0000-{i:04d}",
            )
        )
    return out


def test_bulk_build_gives_the_same_candidates_and_links_as_adding_one_by_one():
    cases = corpus(600)
    settings = DedupeSettings(rare_min_cases=50)
    one_by_one = DuplicateIndex(settings)
    for case in cases[:500]:
        one_by_one.add(case, primary=1 if case.id in (7, 8) else None)
    bulk = DuplicateIndex(settings)
    bulk.add_many((c, 1 if c.id in (7, 8) else None, None) for c in cases[:500])

    assert bulk.snapshot() == one_by_one.snapshot()
    assert len(bulk) == len(one_by_one) == 500
    linked = 0
    for case in cases[500:]:
        assert bulk.candidates(case) == one_by_one.candidates(case)
        link = bulk.find(case)
        assert link == one_by_one.find(case)
        linked += link is not None
        bulk.add(case)
        one_by_one.add(case)
    assert linked > 20  # the comparison covers real links


def test_a_case_indexed_under_a_typo_is_found_after_a_bulk_build():
    early = [
        DedupeCase(i, f"lampu jalan flamboyan rt {i} desa stagen mati", T0)
        for i in range(1, 4)
    ]
    typo = DedupeCase(9, "pohon tumbang jalan flamboyn desa sebelimbingan", T0)
    bulk = DuplicateIndex(DedupeSettings())
    bulk.add_many((c, None, None) for c in [*early, typo])
    # only the street's name, which case 9 misspelt, leads to it
    query = DedupeCase(10, "jembatan flamboyan", T0)
    assert [case_id for case_id, _ in bulk.candidates(query)] == [9, 3, 2, 1]


def test_a_misspelling_seen_before_is_found_under_the_right_spelling():
    index = DuplicateIndex(DedupeSettings())
    # the street is rare (2 % of the cases) yet far more common than its slip
    index.add_many(
        (DedupeCase(i, f"sampah menumpuk di pasar {i}", T0), None, None)
        for i in range(1, 1001)
    )
    for i in range(2001, 2021):
        index.add(DedupeCase(i, f"lampu jalan flamboyan rt {i} mati", T0))
    # the first slip is posted under the street's name, the second is not
    for i in (3001, 3002):
        index.add(DedupeCase(i, "pohon tumbang jalan flamboyn desa stagen", T0))
    query = DedupeCase(4000, "jembatan flamboyan", T0)
    found = {case_id for case_id, _ in index.candidates(query)}
    assert {3001, 3002} <= found


def test_slip_finder_finds_the_known_words_one_slip_away():
    words = ["gorong", "goorong", "jalan", "jalaan", "jaln", "ajlan", "pinus", "x1"]
    finder = SlipFinder(words)
    for word in [*words, "gorng", "jalam", "pinsu", "pnus"]:
        assert finder.near(word) == slips(word) & set(words)


def test_candidates_are_the_same_whether_counted_with_numpy_or_with_sets(
    monkeypatch,
):
    cases = corpus(800, seed=5)
    index = DuplicateIndex(DedupeSettings(posting_budget=60, max_candidates=8))
    index.add_many((c, None, None) for c in cases[:700])
    # new cases, and indexed ones (which must not find themselves)
    queries = cases[700:] + cases[:60]
    monkeypatch.setattr(dedupe_search, "NUMPY_FROM", 10**9)
    by_sets = [index.candidates(c) for c in queries]
    monkeypatch.setattr(dedupe_search, "NUMPY_FROM", 0)
    assert [index.candidates(c) for c in queries] == by_sets
    assert sum(map(len, by_sets)) > 100


def test_a_bulk_build_fills_only_an_empty_index():
    index = DuplicateIndex()
    case = corpus(1)[0]
    index.add(case)
    row = (
        2,
        ["jalan", "pinus"],
        T0.timestamp(),
        frozenset(),
        None,
        None,
        None,
        None,
        None,
    )
    with pytest.raises(ValueError, match="empty index"):
        index.build([row])
    assert len(index) == 1
