"""Which details keep two similar reports apart, and the index's prepared
scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe import search as dedupe_search
from normalizer.dedupe.details import untypoed
from normalizer.dedupe.index import DedupeCase, DuplicateIndex, prepared_scorer
from normalizer.dedupe.keys import common_slips, slips, typo
from normalizer.matching import matching_text

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# words count as details from the first case on (not after 1,000 cases)
SETTINGS = DedupeSettings(rare_min_cases=0)
VILLAGES = ["semayap", "stagen", "dirgahayu", "berangas", "serongga"]
CABLE = "Kabel listrik putus menjuntai di jalan {street}, berbahaya"


def case(i, text, region=None):
    return DedupeCase(
        id=i,
        text=matching_text(text),
        received_at=T0 + timedelta(minutes=i),
        category="listrik",
        region=region,
        tracking_no=f"ADU-0000-{i:04d}",
    )


def index_with(*texts):
    index = DuplicateIndex(SETTINGS)
    # other streets make the common words common, as in a real window
    for i, street in enumerate(["Melati", "Kenanga", "Cempaka", "Dahlia"], 100):
        index.add(case(i, CABLE.format(street=street)))
    for i, text in enumerate(texts, 1):
        index.add(case(i, text))
    return index


def test_a_report_naming_more_details_than_it_shares_is_not_linked():
    index = index_with(CABLE.format(street="Pinus"))
    query = case(9, CABLE.format(street="Pinus nomor 4 desa Berangas"))
    assert index.find(query) is None
    verdict = next(c.verdict for c in index.scored(query) if c.id == 1)
    assert verdict.startswith("different details: '4', 'berangas'")
    assert verdict.endswith(" vs nothing")


def test_a_report_sharing_more_details_than_it_adds_is_linked():
    index = index_with(CABLE.format(street="Pinus nomor 4"))
    link = index.find(case(9, CABLE.format(street="Pinus nomor 4 desa Berangas")))
    assert link is not None
    assert link.target_id == 1


def test_a_typo_excuses_only_a_word_the_other_report_lacks():
    # 'busewa' is one letter from 'tusewa', but both name Tusewa: the
    # streets Busewa and Dagara differ
    index = index_with("Listrik di jalan Busewa Tusewa padam berkali-kali")
    query = case(9, "Listrik di jalan Tusewa Dagara padam berkali-kali")
    assert index.find(query) is None
    typo = case(10, "Listrik di jalan Busewa Tusewwa padam berkali-kali")
    link = index.find(typo)
    assert link is not None
    assert link.target_id == 1


def test_a_changed_letter_in_a_short_name_is_another_street():
    # one letter apart, but a changed letter in a short word most often
    # makes another name; a dropped, doubled or swapped one is a slip
    index = index_with(
        CABLE.format(street="Gatu Semayap"), CABLE.format(street="Keba Semayap")
    )
    for i, street in enumerate(["Batu", "Kewa"], 9):
        assert index.find(case(i, CABLE.format(street=f"{street} Semayap"))) is None
    for i, (street, target) in enumerate([("Gaatu", 1), ("Kbea", 2)], 11):
        link = index.find(case(i, CABLE.format(street=f"{street} Semayap")))
        assert link is not None
        assert link.target_id == target


@pytest.mark.parametrize(
    ("a", "b", "slip"),
    [
        ("stagen", "staagen", True),  # doubled
        ("mawar", "mawr", True),  # dropped
        ("mawar", "mwaar", True),  # swapped
        ("batu", "gatu", False),  # changed: another name
        ("sebelimbingan", "sebelimbigan", True),  # long: two edits
        ("sebelimbingan", "sebelimbongen", True),
        ("sebelimbingan", "sebelambongen", False),  # three
    ],
)
def test_typo_counts_slips_and_two_edits_in_long_words(a, b, slip):
    assert typo(a, b) is slip
    assert typo(b, a) is slip


def test_a_case_without_region_links_across_regions_but_two_regions_do_not():
    index = DuplicateIndex(SETTINGS)
    index.add(case(1, CABLE.format(street="Pinus nomor 4"), region=None))
    index.add(case(2, CABLE.format(street="Cemara nomor 7"), region="Hampang"))
    link = index.find(case(9, CABLE.format(street="Pinus no 4"), region="Sampanahan"))
    assert link is not None
    assert link.target_id == 1
    assert (
        index.find(case(10, CABLE.format(street="Cemara 7"), region="Sampanahan"))
        is None
    )


words = st.lists(st.sampled_from(["jalan", "mawar", "rusak", "4", "rt", "lubang"]))


@given(words, words)
def test_prepared_keys_score_as_the_configured_scorer_scores_texts(a, b):
    prepare, score = prepared_scorer("token_sort_ratio")
    assert score(prepare(a), prepare(b)) == fuzz.token_sort_ratio(
        " ".join(a), " ".join(b)
    )


def test_slips_are_one_dropped_added_doubled_or_swapped_letter():
    near = slips("batusibu")
    assert {"batusiibu", "batsibu", "batuisbu", "batusibuk"} <= near
    assert "batusibu" not in near
    assert "batumiwa" not in near


@given(st.text(alphabet="abcdeiklmnoprstu", min_size=1, max_size=10))
def test_common_slips_are_dropped_doubled_or_swapped_letters(word):
    common = common_slips(word)
    assert common <= slips(word)
    assert word not in common
    if len(word) >= 3:
        assert {word[1:], word[0] + word, word[1] + word[0] + word[2:]} - {
            word
        } <= common


def test_a_slip_in_the_one_detail_two_reports_share_still_finds_the_case():
    index = DuplicateIndex(SETTINGS)
    index.add(case(1, CABLE.format(street="Batusibu nomor 4")))
    index.add(case(2, CABLE.format(street="Batusibu nomor 4")))
    # many newer cases alike but for the street, more than are scored
    for i, street in enumerate(["Melati", "Kenanga", "Cempaka", "Dahlia"] * 30, 100):
        index.add(case(i, CABLE.format(street=f"{street} nomor 4")))
    query = case(9, CABLE.format(street="Batusiibu nomor 4"))
    assert {1, 2} <= {i for i, _ in index.candidates(query)}
    link = index.find(query)
    assert link is not None
    assert link.target_id == 1


detail_words = st.lists(
    st.sampled_from(["jalan", "pinus", "pinsu", "melati", "berangas", "4", "7"]),
    min_size=3,
    max_size=7,
)


@given(st.lists(detail_words, min_size=1, max_size=12), detail_words)
def test_find_links_the_first_candidate_explain_calls_a_match(stored, query):
    """``dengar dedupe explain`` (the full verdict) and find (its quick
    detail checks) agree on every case. The word rule only: a link in other
    words (rule 3, when the word rule found no hit) is listed apart."""
    index = DuplicateIndex(SETTINGS.model_copy(update={"paraphrase": False}))
    for i, words in enumerate(stored, 1):
        index.add(case(i, " ".join(words)))
    new = case(99, " ".join(query))
    link = index.find(new)
    matches = [c.id for c in index.scored(new) if c.verdict == "match"]
    assert (link.target_id if link else None) == (matches[0] if matches else None)


def test_an_older_report_of_the_problem_is_found_among_newer_ones_of_its_village():
    # the village is the only rare word: every report from there is found
    # by it, and more of them than are scored
    settings = DedupeSettings(rare_share=0.2, max_candidates=4)
    index = DuplicateIndex(settings)
    problem = "pembuatan ktp di kantor kecamatan {} tertunda berbulan-bulan"
    other = "blanko ktp habis di {}, antrean panjang sejak pagi"
    villages = ["semayap", "stagen", "dirgahayu", "berangas", "serongga"]
    cases = [problem.format(v) for v in villages for _ in range(12)]
    cases += [other.format(v) for v in villages for _ in range(12)]
    cases += [problem.format("gakema")]
    cases += [other.format("gakema") for _ in range(10)]  # newer
    for i, text in enumerate(cases, 1):
        index.add(
            DedupeCase(i, matching_text(text), T0 + timedelta(minutes=i), category="a")
        )
    query = DedupeCase(
        999, matching_text(problem.format("gakema")), T0 + timedelta(hours=9)
    )
    link = index.find(query)
    assert link is not None
    assert link.target_id == len(cases) - 10


@pytest.mark.parametrize("numpy_from", [0, 10**9], ids=["numpy", "sets"])
def test_a_short_report_is_found_among_newer_longer_ones_holding_its_words(
    monkeypatch, numpy_from
):
    # the newer reports hold every word of the new one and many more: they
    # share as many of its tokens as the identical older report, which the
    # scorer alone would link
    monkeypatch.setattr(dedupe_search, "NUMPY_FROM", numpy_from)
    index = DuplicateIndex(DedupeSettings(rare_share=0.2, max_candidates=4))
    texts = [
        f"puskesmas {v} tutup, pasien menunggu" for v in VILLAGES for _ in range(12)
    ]
    texts.append("puskesmas gakema tutup")
    texts += [
        "apotek puskesmas gakema tutup, obat habis, pasien disuruh beli sendiri"
        for _ in range(10)
    ]
    for i, text in enumerate(texts, 1):
        at = T0 + timedelta(minutes=i)
        index.add(DedupeCase(i, matching_text(text), at, category="kesehatan"))
    query = DedupeCase(
        999, matching_text("Puskesmas Gakema tutup!"), T0 + timedelta(hours=9)
    )
    assert len(texts) - 10 in [i for i, _ in index.candidates(query)]
    link = index.find(query)
    assert link is not None
    assert link.target_id == len(texts) - 10


def test_a_word_stops_being_a_detail_once_more_cases_hold_it():
    # rare means held by at most two cases here, however many are indexed
    index = DuplicateIndex(
        DedupeSettings(rare_min_cases=0, rare_min_df=2, rare_share=0.0001)
    )
    index.add(case(1, "Lampu jalan mati di gang Mangga"))
    index.add(case(2, "Pohon tumbang di gang Mangga"))
    words = frozenset(["lampu", "mangga", "pohon"])
    assert index.shared_distinct(words, words) == ["lampu", "pohon", "mangga"]
    index.add(case(3, "Sampah menumpuk di gang Mangga"))
    # asked before the add, answered for the index after it
    assert index.shared_distinct(words, words) == ["lampu", "pohon"]


WORDS = st.text("abcde", min_size=3, max_size=9) | st.sampled_from(["12", "2024"])


@given(st.lists(WORDS, min_size=1, max_size=4), st.data())
def test_untypoed_keeps_exactly_the_tokens_no_other_is_a_typo_of(missing, data):
    # the others hold slips of some missing words, and unrelated words
    others = set(data.draw(st.frozensets(WORDS, max_size=3)))
    for t in missing:
        if t.isalpha() and data.draw(st.booleans()):
            others.add(data.draw(st.sampled_from(sorted(slips(t)))))
    others = frozenset(others - set(missing))

    def typo_of_another(t):
        if len(t) < 4 or t.isdigit():
            return False
        return any(typo(t, o) for o in others if not o.isdigit())

    assert untypoed(missing, others) == [t for t in missing if not typo_of_another(t)]
