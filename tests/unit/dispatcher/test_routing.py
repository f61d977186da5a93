"""Routing rules: keywords, categories, regions, default agency."""

from __future__ import annotations

from config.loader import parse_settings
from dispatcher.routing import Router

CONFIG = """
agencies:
  - {code: DISKOMINFO, name: Diskominfo}
  - {code: PUPR, name: PUPR}
  - {code: PUPR_PLU, name: PUPR UPT Pulau Laut Utara}
  - {code: DISHUB, name: Dishub}
  - {code: DISDUKCAPIL, name: Disdukcapil}
categories:
  - {name: jalan, keywords: [jalan]}
routing:
  default_agency: DISKOMINFO
  rules:
    - {agency: PUPR, categories: [jalan]}
    - {agency: PUPR_PLU, categories: [jalan], regions: [Pulau Laut Utara]}
    - {agency: DISHUB, keywords: [lampu jalan, traffic light]}
    - {agency: DISDUKCAPIL, keywords: [ktp, "e-ktp", kartu keluarga]}
"""


def router() -> Router:
    return Router(parse_settings(CONFIG, environ={}).routing)


def test_keywords_match_whole_words_ignoring_case_and_accents() -> None:
    decision = router().route("KTP saya belum jadi, Kártu   Keluarga juga")
    assert decision.agency_code == "DISDUKCAPIL"
    assert decision.reason == "routing.rules[3]: keywords ktp, kartu keluarga"
    # "ktp" inside another word is not the keyword
    assert router().route("aktpmu").agency_code == "DISKOMINFO"


def test_nothing_matches_goes_to_the_default_agency() -> None:
    decision = router().route("Terima kasih atas pelayanannya")
    assert decision.agency_code == "DISKOMINFO"
    assert decision.rule_index is None


def test_category_and_region() -> None:
    assert router().route("x", category="jalan").agency_code == "PUPR"
    more_specific = router().route("x", category="jalan", region="pulau laut utara")
    assert more_specific.agency_code == "PUPR_PLU"


def test_a_keyword_rule_beats_a_category_rule() -> None:
    decision = router().route("Lampu jalan di depan pasar mati", category="jalan")
    assert decision.agency_code == "DISHUB"
