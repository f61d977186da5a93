"""Duplicate linking rules of the in-memory index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.index import DedupeCase, DuplicateIndex, reporter_keys
from normalizer.matching import matching_text

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BRIDGE = "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar"
BRIDGE_2 = "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg"
POTHOLE_A = "Jalan Berangas depan SDN 3 berlubang besar, bahaya buat motor"
POTHOLE_B = "Lampu jalan di Gang Mawar RT 4 Stagen mati sudah seminggu gelap"


def case(i, text, *, hours=0.0, who=None, category=None, region=None):
    return DedupeCase(
        id=i,
        text=matching_text(text),
        received_at=T0 + timedelta(hours=hours),
        reporter=who if who is not None else reporter_keys("tg", chat_id=str(100 + i)),
        category=category,
        region=region,
        tracking_no=f"ADU-0000-{i:04d}",
    )


def test_reporter_keys_normalise_phone_email_and_scope_chat_ids():
    a = reporter_keys("tg", phone="+62 812-3456-7890", chat_id="42")
    b = reporter_keys("mail", phone="0812 3456 7890", email="Budi@Contoh.ID")
    assert "phone:6281234567890" in a & b
    assert "email:budi@contoh.id" in b
    assert reporter_keys("tg", chat_id="42") != reporter_keys("wa", chat_id="42")


def test_different_reporters_same_problem_link_to_the_first_with_a_score():
    index = DuplicateIndex()
    first = case(1, BRIDGE)
    assert index.find(first) is None
    index.add(first)
    link = index.find(case(2, BRIDGE_2, hours=1))
    assert link is not None
    assert link.target_id == 1
    assert link.kind == "similar"
    assert link.scorer == "token_sort_ratio"
    assert link.score >= 75
    assert "ADU-0000-0001" in link.reason


def test_different_problems_stay_separate():
    index = DuplicateIndex()
    index.add(case(1, POTHOLE_A))
    assert index.find(case(2, POTHOLE_B, hours=1)) is None


def test_link_points_at_the_primary_never_at_a_duplicate():
    index = DuplicateIndex()
    index.add(case(1, BRIDGE))
    second = case(2, BRIDGE_2, hours=1)
    index.add(second, index.find(second).target_id)
    # closest to the duplicate, but the link goes to its primary
    link = index.find(case(3, BRIDGE_2 + " sekarang", hours=2))
    assert link.target_id == 1


def test_a_case_never_links_to_itself():
    index = DuplicateIndex()
    first = case(1, BRIDGE)
    index.add(first)
    assert index.find(first) is None


def test_outside_the_window_or_closed_is_not_linked():
    index = DuplicateIndex(DedupeSettings(window_days=30))
    index.add(case(1, BRIDGE))
    assert index.find(case(2, BRIDGE_2, hours=31 * 24)) is None
    assert index.find(case(3, BRIDGE_2, hours=29 * 24)).target_id == 1
    index.discard(1)
    assert index.find(case(4, BRIDGE_2, hours=2)) is None


def test_incompatible_category_or_region_is_not_linked_unknown_is_compatible():
    index = DuplicateIndex()
    index.add(case(1, BRIDGE, category="jalan", region="Pulau Laut Utara"))
    other_region = case(2, BRIDGE_2, category="jalan", region="Hampang")
    other_category = case(3, BRIDGE_2, category="air", region="Pulau Laut Utara")
    unknown = case(4, BRIDGE_2)
    assert index.find(other_region) is None
    assert index.find(other_category) is None
    assert index.find(unknown).target_id == 1


def test_region_check_can_be_switched_off():
    index = DuplicateIndex(DedupeSettings(require_same_region=False))
    index.add(case(1, BRIDGE, region="Pulau Laut Utara"))
    assert index.find(case(2, BRIDGE_2, region="Hampang")).target_id == 1


def test_same_reporter_within_72h_links_at_a_lower_threshold():
    who = reporter_keys("mail", email="siti@contoh.id")
    index = DuplicateIndex()
    first = "Air PDAM di rumah saya mati sejak kemarin pagi, tidak bisa mandi"
    index.add(case(1, first, who=who))
    # token_sort_ratio 73: above the same-reporter threshold (70), below 75
    later = case(
        2, "air pdam masih mati sampai sekarang di rumah saya", who=who, hours=20
    )
    link = index.find(later)
    assert link is not None
    assert link.kind == "same_reporter"
    assert link.target_id == 1
    # the same texts from someone else are below the cross-reporter threshold
    assert index.find(case(3, later.text, hours=20)) is None
    # and from the same person after 72 h they are not linked either
    assert index.find(case(4, later.text, who=who, hours=80)) is None


def test_same_phone_on_two_channels_is_the_same_reporter():
    index = DuplicateIndex()
    by_phone = reporter_keys("tg", chat_id="7", phone="081234567890")
    index.add(case(1, "Air PDAM di rumah saya mati sejak kemarin pagi", who=by_phone))
    by_mail = reporter_keys("mail", email="a@b.id", phone="+6281234567890")
    link = index.find(
        case(2, "air pdam masih mati di rumah saya", who=by_mail, hours=5)
    )
    assert link.kind == "same_reporter"


def test_identity_joined_through_an_earlier_case():
    index = DuplicateIndex()
    chat = reporter_keys("tg", chat_id="7")
    both = reporter_keys("tg", chat_id="7") | reporter_keys("mail", email="a@b.id")
    index.add(case(1, "sampah menumpuk di pasar stagen bau sekali", who=chat))
    index.add(case(2, "Jalan rusak di Semayap dekat masjid", who=both, hours=1))
    mail_only = reporter_keys("mail", email="a@b.id")
    assert index.same_reporter(chat, mail_only)
    link = index.find(
        case(3, "sampah di pasar stagen menumpuk bau", who=mail_only, hours=2)
    )
    assert link.kind == "same_reporter"
    assert link.target_id == 1


def test_unlinked_pair_is_never_linked_again_automatically():
    index = DuplicateIndex(unlinked=[(2, 1)])
    index.add(case(1, BRIDGE))
    assert index.find(case(2, BRIDGE_2, hours=1)) is None
    index.allow(2, 1)
    assert index.find(case(2, BRIDGE_2, hours=1)).target_id == 1


def test_short_texts_are_not_linked_across_reporters():
    index = DuplicateIndex()
    index.add(case(1, "jalan rusak"))
    assert index.find(case(2, "jalan rusak", hours=1)) is None


def test_disabled_dedupe_links_nothing():
    index = DuplicateIndex(DedupeSettings(enabled=False))
    index.add(case(1, BRIDGE))
    assert index.find(case(2, BRIDGE, hours=1)) is None


@pytest.mark.parametrize("scorer", ["token_sort_ratio", "WRatio", "ratio"])
def test_scorer_is_configurable_and_named_in_the_link(scorer):
    index = DuplicateIndex(DedupeSettings(scorer=scorer, threshold=60))
    index.add(case(1, BRIDGE))
    link = index.find(case(2, BRIDGE_2, hours=1))
    assert link.scorer == scorer
    assert scorer in link.reason


def test_relinking_a_primary_moves_its_duplicates_along():
    index = DuplicateIndex()
    index.add(case(1, BRIDGE))
    index.add(case(2, BRIDGE_2, hours=1), 1)
    index.add(case(3, POTHOLE_A, hours=2))
    index.set_primary(1, 3)  # staff decide 1 is a duplicate of 3
    assert index.primary_of(2) == 3
    assert index.snapshot()[2] == 3


def test_scored_candidates_explain_the_decision():
    index = DuplicateIndex()
    index.add(case(1, BRIDGE, region="Pulau Laut Utara"))
    index.add(case(2, POTHOLE_A, hours=1))
    query = case(3, BRIDGE_2, hours=2, region="Hampang")
    verdicts = {c.id: c.verdict for c in index.scored(query)}
    assert verdicts[1] == "different region"
    assert 2 not in verdicts  # no word in common: not even a candidate


def test_reports_of_different_streets_are_not_linked_even_when_similar():
    index = DuplicateIndex()
    index.add(case(1, "Lampu jalan di Gang Mawar RT 4 Stagen mati, gelap sekali"))
    # same words, another RT: a different lamp
    other_rt = case(2, "lampu jalan di gang mawar RT 7 stagen mati, gelap sekali")
    assert index.find(other_rt) is None
    verdict = index.scored(other_rt)[0].verdict
    assert verdict == "different details: '7' vs '4'"
    # a typo in the street name is still the same lamp
    typo = case(3, "lampu jalan gang mawarr RT 4 stagen mati gelap bgt", hours=1)
    assert index.find(typo).target_id == 1


def test_texts_sharing_nothing_specific_are_not_linked():
    index = DuplicateIndex()
    for i in range(1, 6):  # "ktp belum jadi" is common: five unrelated offices
        index.add(case(i, f"KTP belum jadi sudah lama di kantor desa nomor {i}"))
    assert index.find(case(9, "ktp saya belum jadi sudah lama kantor desa")) is None


def test_same_reporter_links_to_their_earliest_similar_case_in_the_window():
    who = reporter_keys("x", handle="wargakotabaru")
    index = DuplicateIndex()
    # indexed out of time order (as another worker's cases are caught up)
    for i, hours in [(1, -100.0), (2, -5.0), (3, -30.0), (4, -2.0), (5, -50.0)]:
        index.add(case(i, BRIDGE, hours=hours, who=who))
    index.add(case(6, POTHOLE_B, hours=-60.0, who=who))  # not similar
    link = index.find(case(7, BRIDGE_2, who=who))
    # case 1 is over 72 h old; of the others case 5 is the earliest
    assert link is not None
    assert link.kind == "same_reporter"
    assert link.target_id == 5


def test_a_person_joined_from_two_identities_keeps_their_cases_in_time_order():
    chat = reporter_keys("tg", chat_id="42")
    phone = reporter_keys("wa", phone="081234567890")
    index = DuplicateIndex()
    index.add(case(1, BRIDGE, hours=-10.0, who=chat))
    index.add(case(2, BRIDGE, hours=-20.0, who=phone))
    index.add(case(3, POTHOLE_A, hours=-1.0, who=chat | phone))  # joins them
    link = index.find(case(4, BRIDGE_2, who=chat))
    assert link is not None
    assert link.kind == "same_reporter"
    assert link.target_id == 2
