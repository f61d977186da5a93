"""The citizen web form /lapor: what a citizen sees for each submission, and
the case the pipeline makes of it."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from dengar.app import App
from dengar.runner import Runner
from dengar.web.app import create_app
from dengar.web.ratelimit import RateLimiter
from storage.tables import AttachmentRow, ComplaintRow
from tests.unit.web.lapor_setup import fields, form_settings, photo

NUMBER = re.compile(r'id="tracking-no">([A-Z]+-[0-9A-Z]{4}-[0-9A-Z]{4})<')


@pytest.fixture
def make_form(tmp_path: Path, sqlite_url: str):
    inbox = tmp_path / "kosong"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    opened: list[App] = []

    def make(client=("192.0.2.10", 5000), **options):
        settings = form_settings(sqlite_url, inbox, tmp_path / "spool", **options)
        app = App.open(settings)
        opened.append(app)
        return app, TestClient(
            create_app(app), base_url="https://testserver", client=client
        )

    yield make
    for app in opened:
        app.engine.dispose()


def _run(app: App) -> None:
    summary = asyncio.run(Runner(app).run_once())
    assert not summary.errors


def _cases(app: App) -> list[ComplaintRow]:
    with app.sessions() as session:
        return list(
            session.exec(select(ComplaintRow).where(ComplaintRow.kind == "case"))
        )


def _send(client: TestClient, files=(), **values) -> object:
    page = client.get("/lapor").text
    return client.post("/lapor", data=fields(page, **values), files=list(files))


def test_photo_report_becomes_case_with_shown_number_and_no_gps_kept(make_form):
    app, client = make_form()
    sent = _send(
        client,
        files=[("lampiran", ("IMG_2041.JPG", photo(), "image/jpeg"))],
        kecamatan="",
        desa="",
    )
    assert sent.status_code == 200
    shown = NUMBER.search(sent.text)
    assert shown, "the confirmation shows the tracking number"
    assert "Simpan atau cetak" in sent.text
    assert f'href="/lacak?no={shown.group(1)}"' in sent.text
    _run(app)
    (case,) = _cases(app)
    assert case.tracking_no == shown.group(1)
    assert case.subject == "Jalan berlubang di depan SDN 3"
    assert case.channel == "formulir"
    # no pin and no kecamatan: the photo's GPS placed it
    assert case.location_lat == pytest.approx(-3.2512, abs=1e-3)
    assert case.region == "Pulau Laut Utara"
    with app.sessions() as session:
        (stored,) = session.exec(
            select(AttachmentRow).where(AttachmentRow.complaint_id == case.id)
        )
    image = Image.open(io.BytesIO(stored.data))
    assert image.format == "JPEG"
    assert not image.getexif().get_ifd(0x8825)  # GPS gone
    assert 0x010F not in image.getexif()  # and the camera's other tags


def test_double_submit_makes_one_case_and_shows_the_same_number(make_form):
    app, client = make_form()
    page = client.get("/lapor").text
    data = fields(page)
    first = client.post("/lapor", data=data)
    again = client.post("/lapor", data=data)
    assert again.status_code == 200
    assert "sudah terkirim sebelumnya" in again.text
    assert NUMBER.search(first.text).group(1) == NUMBER.search(again.text).group(1)
    _run(app)
    assert len(_cases(app)) == 1


def test_missing_fields_are_named_and_values_kept(make_form):
    _app, client = make_form()
    sent = _send(client, judul="", tanggal="")
    assert sent.status_code == 400
    assert "Judul laporan wajib diisi." in sent.text
    assert "Tanggal kejadian wajib diisi." in sent.text
    assert "Jalan di depan SDN 3 Semayap berlubang besar" in sent.text  # kept
    assert 'value="Pulau Laut Utara" selected' in sent.text


def test_file_is_judged_by_content_not_name(make_form):
    app, client = make_form()
    fake = b"MZ\x90\x00" + b"\x00" * 200  # a Windows program named as a photo
    sent = _send(client, files=[("lampiran", ("foto.jpg", fake, "image/jpeg"))])
    assert sent.status_code == 400
    assert "bukan foto (JPEG, PNG, WebP) atau dokumen PDF" in sent.text
    _run(app)
    assert _cases(app) == []


def test_more_than_three_files_refused(make_form):
    _app, client = make_form()
    files = [("lampiran", (f"f{i}.jpg", photo(None), "image/jpeg")) for i in range(4)]
    sent = _send(client, files=files)
    assert sent.status_code == 400
    assert "Paling banyak 3 berkas lampiran." in sent.text


def test_oversize_submission_answered_before_reading(make_form):
    _app, client = make_form(max_body_bytes=100_000)
    big = photo(None, size=(1200, 1200)) + b"\x00" * 200_000
    sent = _send(client, files=[("lampiran", ("besar.jpg", big, "image/jpeg"))])
    assert sent.status_code == 413
    assert "Kiriman terlalu besar" in sent.text


def test_failed_captcha_is_explained_and_values_kept(make_form):
    app, client = make_form()
    sent = _send(client, altcha="eyJub3QiOiAiYSBzb2x1dGlvbiJ9")
    assert sent.status_code == 400
    assert "Verifikasi “bukan robot” gagal" in sent.text
    assert "Jalan berlubang di depan SDN 3" in sent.text
    _run(app)
    assert _cases(app) == []


def test_captcha_answer_of_another_form_is_refused(make_form):
    _app, client = make_form()
    first = client.get("/lapor").text
    second = client.get("/lapor").text
    stolen = fields(first)["altcha"]
    sent = client.post("/lapor", data=fields(second, altcha=stolen))
    assert sent.status_code == 400
    assert "gagal" in sent.text


def test_without_javascript_a_few_reports_an_hour(make_form):
    app, client = make_form(without_javascript_per_hour=1)
    first = _send(client, altcha="")
    assert NUMBER.search(first.text)
    second = _send(client, altcha="")
    assert second.status_code == 400
    assert "memerlukan JavaScript" in second.text
    _run(app)
    (case,) = _cases(app)
    assert '"captcha": "none"' in (case.extra or "")


def test_forged_token_gets_a_fresh_form_with_values(make_form):
    _app, client = make_form()
    sent = _send(client, token="0" * 32 + ".1.abc")
    assert sent.status_code == 400
    assert "kedaluwarsa atau tidak sah" in sent.text
    assert "Jalan berlubang di depan SDN 3" in sent.text


def test_rate_limit_per_client_behind_trusted_proxy(make_form):
    app, proxy = make_form(client=("10.0.0.5", 443), submissions_per_hour=1)
    app.settings.web.trusted_proxies.append("10.0.0.0/8")
    proxy = TestClient(
        create_app(app), base_url="https://testserver", client=("10.0.0.5", 443)
    )
    one = {"X-Forwarded-For": "198.51.100.7"}
    other = {"X-Forwarded-For": "198.51.100.8"}
    for headers, status in ((one, 200), (one, 429), (other, 200)):
        page = proxy.get("/lapor").text
        sent = proxy.post("/lapor", data=fields(page), headers=headers)
        assert sent.status_code == status
    assert (
        "Terlalu banyak laporan dari alamat Anda"
        in proxy.post("/lapor", data=fields(proxy.get("/lapor").text), headers=one).text
    )


def test_anonim_with_email_contact(make_form):
    app, client = make_form()
    _send(client, kerahasiaan="anonim", kontak="email", email="warga@contoh.id")
    _run(app)
    (case,) = _cases(app)
    assert case.confidentiality == "anonim"
    assert case.reporter_email == "warga@contoh.id"


def test_bad_contact_is_explained(make_form):
    _app, client = make_form()
    sent = _send(client, kontak="email", email="warga@contoh")
    assert sent.status_code == 400
    assert "Tulis alamat email yang benar" in sent.text
    # without a WhatsApp channel the form offers no WhatsApp; a post that
    # asks for it anyway (a page rendered before it was switched off) is told
    sent = _send(client, kontak="whatsapp", whatsapp="0812 3456 7890")
    assert sent.status_code == 400
    assert "Kabar melalui WhatsApp belum tersedia" in sent.text


def test_bad_whatsapp_number_is_explained(make_form, tmp_path):
    wa = (
        "  - {name: wa, type: whatsapp, phone_number_id: '1065', access_token: t,"
        f" app_secret: s, verify_token: v, spool_directory: {tmp_path / 'wa'},"
        " templates: {acknowledgement: {name: a}, status_update: {name: b}}}\n"
    )
    _app, client = make_form(whatsapp_channel="wa", more_channels=wa)
    sent = _send(client, kontak="whatsapp", whatsapp="12345")
    assert sent.status_code == 400
    assert "Tulis nomor WhatsApp yang benar" in sent.text


def test_similar_open_case_shown_without_identity_and_supported(make_form):
    app, client = make_form()
    first = _send(client, kerahasiaan="biasa", kontak="email", email="ani@contoh.id")
    earlier = NUMBER.search(first.text).group(1)
    _run(app)
    page = client.get("/lapor").text
    check = client.post("/lapor", data=fields(page, aksi="periksa"))
    assert check.status_code == 200
    assert "Saya juga mengalami ini" in check.text
    assert "Kecamatan Pulau Laut Utara" in check.text
    assert earlier not in check.text  # never another reporter's number
    assert "ani@contoh.id" not in check.text
    assert "sejak dua minggu" not in check.text.split('id="similar"')[1]
    ref = re.search(r'name="dukung" id="dukung-1" value="([^"]+)"', check.text)
    assert ref
    sent = client.post(
        "/lapor",
        data=fields(
            check.text, dukung=ref.group(1), isi="Saya juga terganggu lubangnya."
        ),
    )
    assert NUMBER.search(sent.text)
    _run(app)
    cases = {c.tracking_no: c for c in _cases(app)}
    new = cases[NUMBER.search(sent.text).group(1)]
    assert new.duplicate_of_id == cases[earlier].id
    assert "saya juga mengalami ini" in (new.duplicate_reason or "")


def test_no_similar_case_says_so(make_form):
    _app, client = make_form()
    page = client.get("/lapor").text
    check = client.post("/lapor", data=fields(page, aksi="periksa"))
    assert "Belum ada laporan terbuka yang mirip" in check.text


def test_form_page_is_public_and_uncached(make_form):
    _app, client = make_form()
    page = client.get("/lapor")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    assert "tile.openstreetmap.org" in page.headers["content-security-policy"]
    assert "<altcha-widget" in page.text
    assert "Gunakan lokasi saya" in page.text


def test_similar_case_search_is_limited_like_tracking_lookups(make_form):
    _app, client = make_form()
    client.app.state.tracking_limiter = RateLimiter(1, 60.0)
    page = client.get("/lapor").text
    assert client.post("/lapor", data=fields(page, aksi="periksa")).status_code == 200
    again = client.post("/lapor", data=fields(page, aksi="periksa"))
    assert again.status_code == 429
    assert "Terlalu banyak permintaan" in again.text
    assert "Jalan berlubang di depan SDN 3" in again.text  # values kept


def test_body_without_length_is_cut_at_the_cap(make_form):
    _app, client = make_form(max_body_bytes=100_000)

    def endless():
        yield b'--x\r\nContent-Disposition: form-data; name="isi"\r\n\r\n'
        for _ in range(50):
            yield b"a" * 10_000

    sent = client.post(
        "/lapor",
        content=endless(),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert sent.status_code == 413
    assert "Kiriman terlalu besar" in sent.text


def test_incident_date_shown_to_staff_and_on_the_tracking_page(make_form):
    from dengar.web.auth import add_user
    from tests.unit.web.conftest import PASSWORD, login

    app, client = make_form()
    number = NUMBER.search(_send(client, tanggal="2026-11-07").text).group(1)
    secret = NUMBER.search(
        _send(client, tanggal="2026-11-08", kerahasiaan="rahasia").text
    ).group(1)
    _run(app)
    tracked = client.get(f"/lacak?no={number}").text
    assert "Tanggal kejadian" in tracked
    assert "7 November 2026" in tracked
    # a rahasia case shows only its statuses
    assert "8 November 2026" not in client.get(f"/lacak?no={secret}").text
    with app.sessions() as session:
        add_user(session, "budi", PASSWORD, "staff")
        session.commit()
    login(client, "budi")
    page = client.get(f"/kasus/{number}").text
    assert re.search(r'id="incident-date">7 November 2026<', page)


def test_long_date_reads_as_indonesians_write_it():
    from config.localtime import long_date

    assert long_date("2026-12-07") == "7 Desember 2026"
    assert long_date("2027-01-31") == "31 Januari 2027"
    assert long_date(None) == "-"


def test_a_form_of_a_thousand_parts_is_refused_in_indonesian(make_form):
    _app, client = make_form()
    page = client.get("/lapor").text
    parts = [("lampiran", (f"{n}.jpg", b"x", "image/jpeg")) for n in range(1000)]
    sent = client.post("/lapor", data=fields(page), files=parts)
    assert sent.status_code == 400
    assert "terlalu banyak isian atau berkas" in sent.text
    assert 'name="token"' in sent.text  # the form again, ready to send
    assert "Too many" not in sent.text


def test_an_unreadable_multipart_body_is_explained_in_indonesian(make_form):
    _app, client = make_form()
    sent = client.post(
        "/lapor",
        content=b"--x\r\nContent-Disposition: form-data; name=",
        headers={"content-type": "multipart/form-data"},  # no boundary
    )
    assert sent.status_code == 400
    assert "Kiriman tidak dapat dibaca" in sent.text
    assert 'name="token"' in sent.text
