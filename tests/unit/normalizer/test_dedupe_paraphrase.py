"""Duplicates in other words (normalizer/dedupe/paraphrase.py): the score's
quality on the hand-labelled pairs, its parts, and links through the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from rapidfuzz import fuzz

import bench.paraphrase as bp
from config.dedupe_settings import DedupeSettings
from normalizer.dedupe import paraphrase as dp
from normalizer.dedupe.index import DedupeCase, DuplicateIndex
from normalizer.dedupe.keys import key_tokens
from normalizer.matching import matching_text

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
KNOWN = bp.known_names()

# the two reports of issue 21 that the word rule did not link
POTHOLE_EMAIL = (
    "Yth. Dinas PUPR, dengan hormat saya sampaikan bahwa Jalan Pangeran "
    "Diponegoro di depan Masjid Nurul Iman, Kelurahan Semayap, berlubang "
    "cukup dalam sejak hujan minggu lalu. Sudah dua pengendara motor jatuh."
)
POTHOLE_TELEGRAM = "pak jln diponegoro dkt mesjid nurul iman semayap aspalnya hancur"
WATER_EMAIL = (
    "Selamat siang, air PDAM di rumah kami di Dirgahayu keruh berwarna coklat "
    "sudah tiga hari, tidak bisa dipakai untuk masak."
)
WATER_X = "Air ledeng di kel. Dirgahayu kotor bgt kaya lumpur 😡 #PDAMKotabaru"


def case(i, text, *, hours=0.0, reporter=None, category=None):
    return DedupeCase(
        id=i,
        text=matching_text(text),
        received_at=T0 + timedelta(hours=hours),
        reporter=frozenset({reporter or f"chat:tg:{i}"}),
        category=category,
        tracking_no=f"KTB-0000-{i:04d}",
    )


def index_with(*texts, settings=None):
    index = DuplicateIndex(settings or DedupeSettings(), known_places=KNOWN)
    # other reports make common words common, as in a real window
    for i, text in enumerate(
        [
            "Lampu jalan di Gang Mawar RT 4 Stagen mati sudah seminggu",
            "Sampah menumpuk di TPS Jalan Veteran, bau sekali",
            "Air PDAM mati di Jalan Kenanga RT 9 Kotabaru Hulu",
            "Jalan Pattimura depan SDN 2 berlubang besar",
        ],
        100,
    ):
        index.add(case(i, text))
    for i, text in enumerate(texts, 1):
        index.add(case(i, text))
    return index


def verdicts(pairs):
    return np.array(
        [dp.linked(dp.components(a, b)) for a, b in bp.profiles(pairs, KNOWN)]
    )


def precision_recall(pairs, linked):
    labels = np.array([int(p["label"]) for p in pairs])
    precision, recall, _, _ = bp.measure(linked, labels)
    return precision, recall


def test_the_score_reaches_the_targets_on_pairs_it_was_not_fitted_on():
    pairs = bp.load_pairs()
    assert len(pairs) >= 300
    unseen = [p for i, p in enumerate(pairs) if i % 10 >= 5]  # test + held-out
    precision, recall = precision_recall(unseen, verdicts(unseen))
    assert precision >= 0.95
    assert recall >= 0.90


def test_the_score_reaches_the_targets_on_pairs_written_after_freezing_it():
    fresh = bp.load_pairs(bp.FRESH)
    precision, recall = precision_recall(fresh, verdicts(fresh))
    assert precision >= 0.95
    assert recall >= 0.90


def test_the_score_holds_on_other_regencies_and_regional_words():
    # streets and villages of Banjarmasin, Sleman, Surabaya, Makassar … with
    # abbreviations, typos, Javanese and Banjar words (issue 21's review)
    outside = bp.load_pairs(bp.OUTSIDE)
    assert len(outside) >= 60
    precision, recall = precision_recall(outside, verdicts(outside))
    assert precision >= 0.95
    assert recall >= 0.90


def test_the_labelled_set_is_varied_and_balanced():
    pairs = bp.load_pairs()
    kinds = {p["kind"] for p in pairs}
    assert kinds == {
        "paraphrase",
        "same_place_other_problem",
        "same_problem_other_place",
    }
    assert sum(int(str(p["label"])) for p in pairs) >= 100
    texts = [str(p[side]) for p in pairs for side in ("a", "b")]
    assert len(set(texts)) >= 0.8 * len(texts)  # not a few templates
    # both e-mail prose and short chat or X styles
    assert any(len(t) > 150 for t in texts)
    assert sum("#" in t for t in texts) >= 5


def test_the_fast_score_of_the_index_is_the_explained_sum():
    for a, b in bp.profiles(bp.load_pairs(), KNOWN):
        parts = dp.components(a, b)
        z, shared = dp.logit(a, b)
        assert (dp.probability(z) >= dp.THRESHOLD and shared) == dp.linked(parts)
        if dp.linked(parts):  # the spelling part is left out only below it
            assert z == pytest.approx(sum(p.contribution for p in parts), abs=0.01)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Jl. A. Yani km 5 RT 03 depan Masjid Al-Falah",
            # "km" before a number is a kilometre post, not slang for "kamu"
            {"j:yani", "n:km=5", "n:rt=3", "m:@masjid al falah"},
        ),
        ("lampu jalan mati di gang melati", {"j:melati"}),
        ("air keruh di Baharu Utara", {"d:baharu utara"}),
        ("jalan pinus nomor 4 desa berangas", {"j:pinus", "n:nomor=4", "d:berangas"}),
        ("pagar SDN 3 Gedambaan roboh", {"m:@sd 3 gedambaan", "d:gedambaan"}),
        # written together, as in many messages
        ("Jl.Pramuka No.12 RT.03/RW.02", {"j:pramuka", "n:nomor=12", "n:rt=3"}),
        ("gg mawar II rt03 rw02", {"j:mawar", "n:jalan=2", "n:rt=3", "n:rw=2"}),
        # a school, not "sampai 2"
        ("atap kelas SMP 2 bocor", {"m:@smp 2"}),
        # a title is not the name; the name after it is
        ("jl. KH Ahmad Dahlan berlubang", {"j:ahmad dahlan"}),
        ("lrg. Kenari rusak", {"j:kenari"}),
        ("Gang 7 Jalan Arsyad gelap", {"j:7", "j:arsyad"}),
        ("jalan 17 Agustus berlubang", {"j:17 agustus"}),
        ("Perum Griya Permai Blok 12", {"m:@perumahan griya permai", "n:blok=12"}),
        # a village's name may hold a word of the problem table
        ("air keruh di Kelurahan Air Hitam", {"d:air hitam"}),
        # a dusun tells two parts of one desa apart
        ("Dusun Krajan Desa Sumberadi", {"n:dusun=krajan", "d:sumberadi"}),
    ],
)
def test_places_are_read_in_text_order(text, expected):
    found = set(dp.places_of(key_tokens(matching_text(text)), KNOWN))
    assert expected <= found
    if "lampu jalan" in text:  # a street light, not a street named "mati"
        assert not any(p.startswith("j:mati") for p in found)


def test_the_parts_explain_in_indonesian_what_was_compared():
    parts = {
        p.code: p for p in dp.compare_texts(POTHOLE_EMAIL, POTHOLE_TELEGRAM, KNOWN)
    }
    assert parts["street"].detail.startswith("sama: ")
    assert "diponegoro" in parts["street"].detail
    assert parts["landmark"].detail == "sama: masjid nurul iman"
    assert parts["village"].detail == "sama: semayap"
    assert parts["state"].detail == "sama: rusak"
    assert parts["problem_agree"].label == "masalahnya cocok"
    other = {
        p.code: p
        for p in dp.compare_texts(WATER_EMAIL, "air pdam di semayap keruh", KNOWN)
    }
    assert other["village"].detail == "berbeda: dirgahayu / semayap"
    assert other["village"].contribution < 0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Jembatan Desa Loa Raya patah", "jembatan desa loa duri patah"),
        ("Jalan Ahmad Yani berlubang", "jl kh ahmad dahlan berlubang"),
        ("Jalan Sultan Adam berlubang", "jalan sultan agung berlubang"),
        ("Jalan rusak Dusun Krajan Sumberadi", "dsn ngentak sumberadi jalan rusak"),
    ],
)
def test_places_sharing_a_first_word_stay_apart(first, second):
    assert not dp.linked(dp.compare_texts(first, second, KNOWN))


def test_a_village_named_like_a_problem_is_a_place_not_the_problem():
    keys = key_tokens(matching_text("Jalan Juanda Kelurahan Air Hitam berlubang"))
    assert "#o:water" not in dp.traits_of(keys, KNOWN)
    # one word written as two
    assert dp.linked(
        dp.compare_texts(
            "Aspal Jalan By Pass depan SPBU berlubang",
            "jl bypass dpn spbu aspalnya rusak berlubang",
            KNOWN,
        )
    )


def test_regional_words_name_the_problem():
    # Javanese banyune/butek, Banjar balubang/pajah, the -ne suffix
    for text, concept in [
        ("banyune butek", "water"),
        ("jalannya balubang", "broken"),
        ("lampu pajah", "off"),
        ("uwuh numpuk", "waste"),
        ("dalane peteng", "dark"),
    ]:
        objects, states = dp.problem_of(key_tokens(matching_text(text)))
        assert concept in objects | states, text


def test_the_issue_examples_link_in_other_words_though_their_words_score_low():
    for first, second in ((POTHOLE_EMAIL, POTHOLE_TELEGRAM), (WATER_EMAIL, WATER_X)):
        keys = [" ".join(sorted(key_tokens(matching_text(t)))) for t in (first, second)]
        assert fuzz.ratio(*keys) < 75  # the word rule alone leaves them apart
        index = index_with(first)
        link = index.find(case(9, second, hours=5))
        assert link is not None
        assert link.target_id == 1
        assert link.scorer == "paraphrase"
        assert link.score >= dp.THRESHOLD * 100
        assert "in other words" in link.reason


@pytest.mark.parametrize(
    "other",
    [
        # the same place, another problem
        "lampu jalan di jl diponegoro dekat mesjid nurul iman semayap mati",
        # the same problem, another street
        "jl veteran dekat masjid al ikhlas semayap aspalnya hancur",
    ],
)
def test_hard_negatives_stay_apart_in_the_index(other):
    index = index_with(POTHOLE_EMAIL)
    assert index.find(case(9, other, hours=2)) is None


def test_another_rt_of_the_same_street_stays_apart():
    index = index_with("Air PDAM Jalan Flamboyan RT 2 Stagen bau lumpur")
    assert index.find(case(9, "air jl flamboyan rt 6 stagen bau lumpur")) is None
    linked = index.find(case(10, "jl flamboyan rt 2 stagen airnya berbau lumpur"))
    assert linked is not None


def test_links_in_other_words_can_be_switched_off():
    index = index_with(POTHOLE_EMAIL, settings=DedupeSettings(paraphrase=False))
    assert index.find(case(9, POTHOLE_TELEGRAM, hours=5)) is None


def test_a_closed_or_other_category_case_is_not_linked_in_other_words():
    index = index_with(POTHOLE_EMAIL)
    index.discard(1)
    assert index.find(case(9, POTHOLE_TELEGRAM, hours=5)) is None
    index.reopen(1)
    late = case(9, POTHOLE_TELEGRAM, hours=24 * 31)  # outside the window
    assert index.find(late) is None


def test_the_bulk_build_links_in_other_words_as_add_does():
    added = index_with(POTHOLE_EMAIL)
    built = DuplicateIndex(DedupeSettings(), known_places=KNOWN)
    built.build(
        (
            c.id,
            key_tokens(c.text),
            c.received_at.timestamp(),
            c.reporter,
            c.category,
            c.region,
            c.tracking_no,
            None,
            c.location,
        )
        for c in [
            case(i, t)
            for i, t in [
                (100, "Lampu jalan di Gang Mawar RT 4 Stagen mati sudah seminggu"),
                (1, POTHOLE_EMAIL),
            ]
        ]
    )
    query = case(9, POTHOLE_TELEGRAM, hours=5)
    assert built.find(query) == added.find(query)


def test_a_later_report_decays_the_score():
    a = dp.Profile.of(key_tokens(matching_text(WATER_EMAIL)), KNOWN)
    b = dp.Profile.of(key_tokens(matching_text(WATER_X)), KNOWN)
    now, later = dp.logit(a, b)[0], dp.logit(a, b, days_apart=20)[0]
    assert later < now
    parts = {p.code: p for p in dp.components(a, b, days_apart=20)}
    assert parts["time"].label == "selang waktu"
    assert parts["time"].contribution < 0


def test_a_malformed_problem_table_line_is_named(tmp_path, monkeypatch):
    bad = tmp_path / "problems.tsv"
    bad.write_text(
        "# comment\nair\tobject\twater\nkeruh\tkeadaan\tdirty\n", encoding="utf-8"
    )
    monkeypatch.setattr(dp, "PROBLEMS_FILE", bad)
    dp.problem_words.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"problems\.tsv:3"):
            dp.problem_words()
    finally:
        monkeypatch.undo()
        dp.problem_words.cache_clear()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # the same street, another kilometre post ("km" is no "kamu" here)
        ("Lampu jalan di Jalan Sudirman km 3 padam", "lampu jln sudirman km 7 mati"),
        # a thank-you for a repair is no second report of the problem
        (
            "Lampu jalan di Jalan Pulau Derawan mati",
            "lampu jl pulau derawan sudah menyala lagi, makasih",
        ),
        # one dusun name in two desa (Krajan is in many)
        (
            "Jalan berlubang di Dusun Krajan Desa Sumberbendo",
            "jalan dusun krajan desa sambirejo rusak bolong",
        ),
    ],
)
def test_general_rules_keep_other_places_and_solved_problems_apart(a, b):
    assert not dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Kupang Malay "sonde jalan": the water does not run
        (
            "Air PDAM di Kelurahan Oesapa Barat tidak mengalir seminggu",
            "oesapa barat air leding su seminggu sonde jalan",
        ),
        # the street in the other's words; "jalan kaki" is walking, no street
        (
            "Trotoar di Jalan Dago depan SMA Negeri 1 rusak berlubang",
            "trotoar dago dpn sman 1 ancur bolong2, bahaya buat yg jalan kaki",
        ),
        # Aceh's "gampong" is a village
        (
            "Air PDAM di Gampong Lamteh tidak mengalir dua hari",
            "gampong lamteh air pdam ga ngalir udh 2 hari",
        ),
    ],
)
def test_general_rules_link_one_problem_told_in_regional_words(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a service problem: no road, water or lamp in either report
        (
            "Pelayanan di Puskesmas Sungai Durian sudah tutup pukul 11 siang",
            "puskesmas sungai durian tutup jam 11, pasien pada pulang",
        ),
        # a topic the problem table does not list: the words in common say it
        (
            "Posyandu Melati Desa Sukamaju kehabisan vaksin campak untuk balita",
            "vaksin campak posyandu melati sukamaju kosong, balita blm disuntik",
        ),
        # an office named by its agency; antrean / antrian
        (
            "Antrean di Kantor Disdukcapil Kabupaten Kayong Utara di Sukadana "
            "sangat panjang, nomor antrean habis jam 9",
            "dukcapil sukadana antrian panjang bgt, jam 9 nomor udh habis",
        ),
        # a formal letter's RT and RW against a chat without them
        (
            "Lampu penerangan di Gang Kenanga RT 03 RW 07 Kelurahan Sukajadi "
            "padam sejak dua hari",
            "lampu jalan mati di gg kenanga sukajadi",
        ),
        # a school's abbreviation and a Roman numeral
        (
            "Pagar SMA Negeri 1 Ketapang roboh tertimpa pohon",
            "pagar smansa ketapang roboh ketiban pohon",
        ),
    ],
)
def test_general_rules_link_services_offices_and_abbreviations(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a generic head word (SD Inpres) never decides alone
        (
            "Atap ruang kelas SD Inpres Oebufu roboh setelah hujan",
            "atap kelas sd inpres naikoten roboh semalam",
        ),
        # a village's number is part of its name
        (
            "Air PDAM di Kelurahan Sidorame VII tidak mengalir tiga hari",
            "Air PDAM di Kelurahan Sidorame VI tidak mengalir tiga hari",
        ),
        # a tree taken away: a report that it was fixed
        (
            "Pohon tumbang menutup Jalan Gatot Subroto, tolong dievakuasi",
            "pohon tumbang di jl gatot subroto sudah dievakuasi, jalan lancar",
        ),
        # two villages sharing a first word
        (
            "Banjir merendam Gampong Lhok Bengkuang setinggi lutut",
            "banjir rendam gampong lhok rambong setinggi lutut",
        ),
    ],
)
def test_general_rules_keep_neighbours_and_repairs_apart(a, b):
    assert not dp.linked(dp.compare_texts(a, b, KNOWN))


def test_a_recurrence_weeks_later_is_a_new_event():
    first = "Air PDAM di Kelurahan Sidorame tidak mengalir sejak pagi"
    again = "air pdam sidorame mati lagi hari ini"
    a = dp.Profile.of(key_tokens(matching_text(first)), KNOWN)
    b = dp.Profile.of(key_tokens(matching_text(again)), KNOWN)
    assert dp.linked(dp.components(a, b, days_apart=1))
    parts = dp.components(a, b, days_apart=14)
    assert not dp.linked(parts)
    assert any(p.code == "again" and p.contribution < 0 for p in parts)


def test_close_coordinates_override_a_street_read_from_a_common_word():
    a = dp.Profile.of(
        key_tokens(matching_text("kabel listrik jatuh ke jalan bahaya, tiang miring")),
        KNOWN,
    )
    b = dp.Profile.of(
        key_tokens(matching_text("Kabel listrik jatuh di Jalan Cempaka, tiang miring")),
        KNOWN,
    )
    assert not dp.linked(dp.components(a, b))
    assert dp.linked(dp.components(a, b, km_apart=0.05))
    z, shared = dp.logit(a, b, km_apart=0.05)
    assert shared
    assert dp.probability(z) >= dp.THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # numbered neighbours never link, whatever other word they share
        (
            "Pungutan seragam di SMP Negeri 1 Sungailiat, Rp700.000 per siswa",
            "SMPN 3 Sungailiat juga minta uang seragam Rp700 ribu",
        ),
        # two markets on one long road: a Javanese name with ``ke-`` is a name
        (
            "Jalan Raya Wates depan Pasar Kedungpring berlubang besar",
            "jalan raya wates depan pasar sentolo berlubang",
        ),
        # a repair in Javanese (``wis``) with a thank-you
        (
            "Got di Jalan Merdeka Ketapang tersumbat sampah, air meluap",
            "got jl merdeka ketapang wis dikeruk, matur nuwun",
        ),
        # an animal caught
        (
            "Ular piton masuk rumah warga di Desa Sukamaju, mohon bantuan",
            "ular di desa sukamaju sudah ditangkap damkar, terima kasih",
        ),
    ],
)
def test_general_rules_keep_numbered_neighbours_and_repairs_apart(a, b):
    assert not dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Minangkabau negation and verb of working
        (
            "Air PDAM di Nagari Pariangan tidak mengalir dua hari",
            "aia pdam di nagari pariangan indak iduik duo hari",
        ),
        # Madurese
        (
            "Air PDAM di Kelurahan Bugih tidak keluar sejak kemarin",
            "aeng pdam kelurahan bugih ta' kaluar dari kemarin",
        ),
        # a ring road by its initials
        (
            "Lubang besar di Jalan Lingkar Utara dekat SPBU, motor sering jatuh",
            "jlu dekat spbu ada lobang gede, motor pada jatuh",
        ),
        # a town written together and apart
        (
            "Saluran di Jalan Diponegoro Tanjungpinang tersumbat sampah",
            "got jl diponegoro tanjung pinang mampet sampah",
        ),
    ],
)
def test_general_rules_link_regional_negation_initials_and_compounds(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


def test_a_follow_up_on_a_problem_still_open_is_the_same_event():
    first = "Lampu jalan di Jalan Sudirman Km 3 mati semua, gelap sekali"
    follow = "lampu jl sudirman km 3 masih mati, sudah lapor seminggu, gelap lagi"
    a = dp.Profile.of(key_tokens(matching_text(first)), KNOWN)
    b = dp.Profile.of(key_tokens(matching_text(follow)), KNOWN)
    assert dp.linked(dp.components(a, b, days_apart=8))
    assert not any(p.code == "again" for p in dp.components(a, b, days_apart=8))
    # ``pole`` (Madurese), ``baliak`` (Minangkabau): again, weeks later
    for again in ("air pdam bugih mate pole", "aia pdam bugih mati baliak"):
        c = dp.Profile.of(key_tokens(matching_text(again)), KNOWN)
        d = dp.Profile.of(
            key_tokens(matching_text("Air PDAM di Kelurahan Bugih mati")), KNOWN
        )
        assert not dp.linked(dp.components(d, c, days_apart=20))


def test_a_location_without_place_words_links_by_distance():
    words = dp.Profile.of(
        key_tokens(
            matching_text("Jalan di Desa Sumberejo amblas, truk tidak berani lewat")
        ),
        KNOWN,
    )
    location = dp.Profile.of(
        key_tokens(matching_text("dalane ambles neng kene, truk ora wani liwat")), KNOWN
    )
    assert not dp.linked(dp.components(words, location))
    assert dp.linked(dp.components(words, location, km_apart=0.04))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # cardinal-direction neighbours, named with or without a marker
        (
            "Air PDAM di Kelurahan Sungai Utara tidak mengalir dua hari",
            "air pdam di sungai selatan mati 2 hari",
        ),
        (
            "Lampu jalan Desa Ngadirejo Wetan padam semua",
            "lampu jalan di ngadirejo kulon mati semua",
        ),
        # a beach named by its direction is not found in a hashtag of its town
        (
            "Sampah menumpuk di Pantai Timur Anyer, bau sekali",
            "sampah numpuk di pantai pasir putih, bau #anyer",
        ),
        # a school's number after its name; two markets of one town
        (
            "Atap kelas SD Negeri Sukamaju 2 bocor parah",
            "atap SDN Sukamaju 5 bocor kalau hujan",
        ),
        (
            "Got depan Pasar Inpres Baturaja mampet, air meluap",
            "got pasar sentral baturaja tersumbat, air meluap",
        ),
        # a Roman one is a number: Dermaga I is not Dermaga II
        (
            "Kapal dari Dermaga Pelita I terlambat 3 jam",
            "kapal dermaga pelita II telat 3 jam",
        ),
        # a village named with its kecamatan is not the kecamatan's village
        (
            "Jalan desa di Desa Sumberjo berlubang parah",
            "jalan desa di Desa Karanganyar, Sumberjo berlubang",
        ),
        # the road to a landmark and the landmark's toilet
        (
            "Jalan menuju Pantai Lakey rusak berat, banyak turis jatuh",
            "Toilet umum di Pantai Lakey rusak dan tidak ada air",
        ),
        # repaired, then off again weeks later (Manado ``so bae``, ``ulang``)
        (
            "Lampu jalan di Jalan Piere Tendean padam semua",
            "so bae lampu jalan piere tendean, mar skarang mati ulang",
        ),
    ],
)
def test_neighbours_by_direction_number_and_qualifier_stay_apart(a, b):
    parts = dp.compare_texts(a, b, KNOWN)
    assert not dp.linked(parts)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # English words of a tourist post
        (
            "Huge pothole on the road near Pantai Senggigi, motorbikes fall!",
            "jalan dekat pantai senggigi berlubang besar, motor banyak jatuh",
        ),
        (
            "Plastic trash everywhere on Pantai Amed beach, smelly",
            "sampah plastik menumpuk di pantai amed, bau",
        ),
        # a kilometre post in words
        (
            "sopir truk: jalan lintas tayan di kilometer dua puluh tiga longsor",
            "Jalan Lintas Tayan Km 23 longsor, truk tertahan",
        ),
        # an office named by its agency's account
        (
            "blangko KTP di kantor dukcapil sekadau habis",
            "@disdukcapilsekadau blangko ktp kosong lagi, warga pulang",
        ),
        # water as deep as a waist is a flood
        (
            "Banjir merendam Desa Rasau Jaya, warga mengungsi",
            "di desa rasau jaya air sudah sepinggang pak",
        ),
    ],
)
def test_english_number_words_accounts_and_depths_link(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # address components with letter codes, numbers and Roman numerals
        (
            "PJU di perum Mawar Asri blok AH mati seminggu, jalan gelap",
            "lampu jalan perum mawar asri blok AJ mati juga, 3 tiang",
        ),
        (
            "Lift Tower B Rusunawa Cempaka mati sejak Sabtu",
            "lift tower C rusun cempaka mati dari sabtu",
        ),
        (
            "Jalan Kenari Gang 3 berlubang, motor jatuh",
            "Jalan Kenari Gang 5 juga berlubang, motor jatuh",
        ),
        (
            "Sampah di Lingkungan III Kelurahan Sukamaju tidak diangkut",
            "sampah kel. sukamaju lingkungan 5 nda diangkut",
        ),
        # one name with opposite qualifiers: two places
        (
            "Tambang pasir di Desa Sukaraja Dalam bikin tebing longsor",
            "tambang pasir di sukaraja luar bikin tebing longsor",
        ),
    ],
)
def test_neighbouring_address_components_stay_apart(a, b):
    assert not dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a component one report leaves out
        (
            "Lift Tower B Rusunawa Cempaka mati sejak Sabtu, lansia tidak bisa turun",
            "lift rusun cempaka tower B mati dr sabtu, lansia ga bs turun",
        ),
    ],
)
def test_an_address_component_one_report_leaves_out_still_links(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a Minangkabau chat and a formal letter: ``numpuak``, ``baunyo``
        (
            "sampah di pasar lubuk sikaping numpuak, baunyo alah tacium dari jalan",
            "Judul: Sampah menumpuk di Pasar Lubuk Sikaping\nSampah menumpuk dan "
            "berbau busuk di Pasar Lubuk Sikaping sejak empat hari.",
        ),
        # a desa followed by its kecamatan on one side, by its regency on the
        # other
        (
            "Jalan di Desa Sumberagung Banyuwangi longsor, Kecamatan Pesanggaran",
            "pak longsor di desa sumberagung pesanggaran, jalan ketutup separuh",
        ),
        # an island one report names as such, the other by its name only
        (
            "Kapal perintis ke Pulau Romang tidak datang dua minggu, beras habis",
            "kapal perintis ke romang su dua minggu seng datang, beras habis",
        ),
    ],
)
def test_one_event_in_a_chat_and_a_letter_links(a, b):
    assert dp.linked(dp.compare_texts(a, b, KNOWN))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a regional thank-you: Sundanese ``tos hurung``, ``sudah normal``
        (
            "Lampu jalan di Simpang Cikurubuk mati sejak Senin",
            "lampu simpang cikurubuk tos hurung deui, nuhun",
        ),
        (
            "pak listrik di desa teluk pambang padam tiap malam udh seminggu, pln",
            "pak listrik teluk pambang udh normal 3 malam ini, terima kasih pln",
        ),
        # two health centres open until the same hour: the hour is no number
        # of a place
        (
            "Judul: Puskesmas Sidomulyo tutup sebelum jam pelayanan\nKami datang "
            "ke Puskesmas Sidomulyo pukul 11.00, loket pendaftaran sudah tutup "
            "dan petugas mengatakan pelayanan selesai.",
            "puskesmas karanganyar jg pak, jam 11 loket udh tutup, pasien pulang",
        ),
    ],
)
def test_repairs_in_regional_words_and_hours_keep_reports_apart(a, b):
    assert not dp.linked(dp.compare_texts(a, b, KNOWN))
