"""Places: the gazetteer and a case's region."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.places_settings import GazetteerSettings, PlaceSettings
from contracts.records import Location
from normalizer.places import Gazetteer, GazetteerError, load_places

ROOT = Path(__file__).resolve().parents[3]
KOTABARU = ROOT / "config" / "gazetteer.kotabaru.yaml"


@pytest.fixture(scope="module")
def kotabaru():
    return Gazetteer.from_settings(GazetteerSettings(file=KOTABARU))


def test_shipped_gazetteer_lists_the_22_kecamatan_of_kotabaru():
    places = load_places(KOTABARU)
    kecamatan = {p.name for p in places if p.kind == "kecamatan"}
    assert len(kecamatan) == 22
    assert {"Pulau Laut Utara", "Pulau Sebuku", "Hampang", "Sampanahan"} <= kecamatan
    assert all(p.latitude is not None for p in places)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Jalan rusak di Kecamatan Pulau Laut Timur", "Pulau Laut Timur"),
        ("lampu mati di kel. Kotabaru Hilir", "Pulau Laut Utara"),  # kelurahan
        ("SAMPAH numpuk di pasar Stagen", "Pulau Laut Utara"),
        ("jembatan ambruk di ds. smayap", "Pulau Laut Utara"),  # typo: Semayap
        ("banjir lagi di pulau laut utr", "Pulau Laut Utara"),  # abbreviated
        ("akses jalan ke Hampang putus", "Hampang"),
        ("jalan di Pulau Laut Tanjung Selayar rusak", "Pulau Laut Tanjung Selayar"),
    ],
)
def test_region_from_the_text(kotabaru, text, region):
    assert kotabaru.region_of(text, None) == region


@pytest.mark.parametrize(
    "text",
    ["jalan rusak parah sekali", "tolong bapak bupati", "air tidak mengalir", ""],
)
def test_text_without_a_place_has_no_region(kotabaru, text):
    assert kotabaru.region_of(text, None) is None


def test_longer_name_wins_over_a_shorter_one_inside_it(kotabaru):
    match = kotabaru.place_of("Pulau Laut Selatan dan Hampang")
    assert match.place == "Pulau Laut Selatan"
    assert match.how == "text"


def test_fuzzy_match_reports_its_score(kotabaru):
    match = kotabaru.place_of("jalan di smayap")
    assert match.how == "fuzzy"
    assert 90 <= match.score < 100


def test_region_from_coordinates_when_the_text_names_none(kotabaru):
    near_town = Location(latitude=-3.301, longitude=116.156)
    assert kotabaru.region_of("lampu mati", near_town) == "Pulau Laut Utara"
    assert kotabaru.place_of("lampu mati", near_town).how == "location"
    near_sebuku = Location(latitude=-3.50, longitude=116.37)
    assert kotabaru.region_of("jalan rusak", near_sebuku) == "Pulau Sebuku"


def test_text_beats_coordinates(kotabaru):
    near_town = Location(latitude=-3.301, longitude=116.156)
    assert kotabaru.region_of("banjir di Hampang", near_town) == "Hampang"


def test_coordinates_far_from_every_place_give_no_region(kotabaru):
    jakarta = Location(latitude=-6.2, longitude=106.8)
    assert kotabaru.region_of("jalan rusak", jakarta) is None


def test_aliases_and_inline_places():
    gazetteer = Gazetteer.from_settings(
        GazetteerSettings(
            places=[
                PlaceSettings(name="Pulau Laut Utara", aliases=["PLU"]),
                PlaceSettings(name="Rampa", kind="desa", kecamatan="Pulau Laut Utara"),
            ]
        )
    )
    assert gazetteer.region_of("banjir di PLU") == "Pulau Laut Utara"
    assert gazetteer.region_of("banjir di rampa") == "Pulau Laut Utara"


def test_short_names_never_match_fuzzily():
    gazetteer = Gazetteer([PlaceSettings(name="Rampa")])
    assert gazetteer.region_of("ramp") is None
    assert gazetteer.region_of("rampa") == "Rampa"


def test_desa_of_an_unknown_kecamatan_is_reported():
    with pytest.raises(GazetteerError, match=r"Rampa \(kecamatan 'Nowhere'\)"):
        Gazetteer([PlaceSettings(name="Rampa", kind="desa", kecamatan="Nowhere")])


def test_invalid_gazetteer_file_reports_every_entry(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "places:\n  - {name: Rampa, kind: desa}\n  - {name: X, kind: kota}\n",
        encoding="utf-8",
    )
    with pytest.raises(GazetteerError) as err:
        load_places(path)
    assert "places[0]" in str(err.value)
    assert "places[1" in str(err.value)


def test_missing_gazetteer_file_is_a_clear_error(tmp_path):
    with pytest.raises(GazetteerError, match="cannot read gazetteer"):
        load_places(tmp_path / "none.yaml")


def test_settings_need_a_file_or_places():
    with pytest.raises(ValueError, match="gazetteer file or a list of places"):
        GazetteerSettings()
