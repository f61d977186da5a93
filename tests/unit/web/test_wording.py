"""Stored English codes and reasons read in Indonesian on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
import pytest

from config.localtime import local_time
from contracts.records import CaseStatus
from dengar.case_edits import removal_note
from dengar.comment_replies import refusal
from dengar.web.wording import in_indonesian, install_wording
from dispatcher.routing import Router
from dispatcher.status import StatusChangeError, check_transition


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            "routing.rules[0]: keywords jalan rusak, lubang; category jalan",
            "aturan rute ke-1: kata kunci jalan rusak, lubang; kategori jalan",
        ),
        (
            "no rule matched: default agency",
            "tidak ada aturan rute yang cocok: instansi bawaan",
        ),
        (
            "similar text: token_sort_ratio 100.0 >= 75 with KTB-ZJYG-XZAE, "
            "sharing stagen, lubang; category jalan",
            "teks mirip dengan KTB-ZJYG-XZAE: skor 100.0 (ambang 75), "
            "kata yang sama: stagen, lubang; kategori jalan",
        ),
        (
            "same reporter within 72 h: token_set_ratio 91.0 >= 80 with KTB-AAAA-0001",
            "pelapor yang sama dalam 72 jam: skor 91.0 (ambang 80) "
            "dengan KTB-AAAA-0001",
        ),
        ("dengar: delivered to PUPR", "dengar: delivered to PUPR"),  # not a shape
        ("delivered to PUPR", "terkirim ke PUPR"),
        ("linked by hand by cli:root", "ditautkan secara manual oleh cli:root"),
        (
            "linked by hand by web:budi to KTB-AAAA-0001",
            "ditautkan secara manual oleh web:budi ke KTB-AAAA-0001",
        ),
        (
            "set by web:budi at triage (was DISKOMINFO)",
            "ditetapkan oleh web:budi saat pemilahan (sebelumnya DISKOMINFO)",
        ),
        (
            "confidentiality biasa -> rahasia (dasbor)",
            "kerahasiaan diubah dari biasa menjadi rahasia (melalui dasbor)",
        ),
        (
            "the case has no agency: dispatched needs one",
            "kasus belum memiliki instansi: pilih instansi sebelum diteruskan",
        ),
        ("Lubang sudah ditambal", "Lubang sudah ditambal"),  # typed by a person
    ],
)
def test_stored_reasons_read_in_indonesian(stored, shown):
    assert in_indonesian(stored) == shown


def test_what_the_router_writes_has_an_indonesian_reading():
    from config.settings import RoutingRule, RoutingSettings

    router = Router(
        RoutingSettings(
            default_agency="DISKOMINFO",
            rules=[RoutingRule(agency="PUPR", keywords=["jalan"])],
        )
    )
    for text in ("jalan berlubang", "air mati"):
        reason = router.route(text).reason
        shown = in_indonesian(reason)
        assert shown != reason
        assert "rule" not in shown


@pytest.mark.parametrize(
    ("current", "new", "shown"),
    [
        (
            "resolved",
            CaseStatus.VERIFIED,
            "kasus berstatus selesai tidak dapat menjadi terverifikasi "
            "(yang dapat dipilih: ditutup, diproses)",
        ),
        ("resolved", CaseStatus.RESOLVED, "kasus sudah berstatus selesai"),
        ("closed", CaseStatus.RESOLVED, "tidak dapat diubah lagi"),
    ],
)
def test_state_machine_refusals_read_in_indonesian(current, new, shown):
    with pytest.raises(StatusChangeError) as info:
        check_transition(current, new, None)
    assert shown in in_indonesian(str(info.value))


def test_template_filters():
    env = jinja2.Environment(autoescape=True)
    install_wording(env)
    page = env.from_string(
        "{{ 'agency'|outbox_kind }} {{ 'reply'|outbox_kind }} {{ 'dengar'|actor }} "
        "{{ 'delivered to PUPR'|indonesian }}"
    ).render()
    assert page == "ke instansi ke pelapor sistem terkirim ke PUPR"


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Jakarta", "07-12-2026 22:21 WIB"),
        ("Asia/Makassar", "07-12-2026 23:21 WITA"),
        ("Asia/Jayapura", "08-12-2026 00:21 WIT"),
        ("Europe/Amsterdam", "07-12-2026 16:21 CET"),
    ],
)
def test_local_time_uses_the_zone_and_its_abbreviation(zone, shown):
    utc = datetime(2026, 12, 7, 15, 21, 4, 123456, tzinfo=UTC)
    assert local_time(utc, zone) == shown
    # naive (as SQLite returns) and ISO text (as status reports carry) alike
    assert local_time(utc.replace(tzinfo=None), zone) == shown
    assert local_time(utc.isoformat(), zone) == shown
    assert local_time(None, zone) == "-"


@pytest.mark.parametrize(
    ("how", "shown"),
    [
        ("deleted", "pengaduan dihapus di media sosial"),
        ("hide", "pengaduan disembunyikan di media sosial"),
        ("unhide", "pengaduan ditampilkan kembali di media sosial"),
    ],
)
def test_a_comment_removed_at_its_source_is_said_in_indonesian(how, shown):
    assert in_indonesian(removal_note(how, own=True)).startswith(shown)
    assert in_indonesian(removal_note(how, own=False)).startswith("informasi tambahan")


def test_a_refused_comment_reply_is_said_in_indonesian():
    assert "pilih balasan publik" in in_indonesian(
        refusal("KTB-7K3M-9Q2D", "private", ("public",))
    )
    assert "bukan komentar Facebook" in in_indonesian(
        refusal("KTB-7K3M-9Q2D", "public", ())
    )


def test_a_photo_the_account_is_only_tagged_in_is_said_in_indonesian():
    said = in_indonesian(refusal("KTB-7K3M-9Q2D", "public", (), tagged=True))
    assert said.startswith("KTB-7K3M-9Q2D tidak dapat dibalas lewat Instagram")
    assert "hanya ditandai" in said
