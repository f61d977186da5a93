"""The citizen web form /lapor in Chromium: a report with photos and a map
pin, "sudah dilaporkan?", the form with JavaScript off, "gunakan lokasi
saya", tracking the new case, and axe-core on every state of the page."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from dengar.app import App
from dengar.runner import Runner
from dengar.web.app import create_app
from storage.tables import AttachmentRow, ComplaintRow
from tests.browser.conftest import axe_violations, serve, shot
from tests.unit.web.lapor_setup import form_settings, photo

# a plain land-coloured tile: the closed network has no tile server
BLANK_TILE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAFUlEQVR4"
    "nGN8+vg+AzbAhFV00EoAABRWArfIKNG4AAAAAElFTkSuQmCC"
)
NUMBER = re.compile(r"[A-Z]+-[0-9A-Z]{4}-[0-9A-Z]{4}")
BRIDGE = "Jembatan kayu di Semayap retak, sebagian papan lepas dan jalan ditutup warga."
TEXT = "Jalan di depan SDN 3 Semayap berlubang besar, dua motor sudah jatuh."


@pytest.fixture(scope="module")
def form_live(tmp_path_factory, live):
    """An installation with the web form (blank map tiles, so the closed
    network is not asked), served on a free port."""
    tmp = tmp_path_factory.mktemp("webform")
    inbox = tmp / "inbox"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    settings = form_settings(
        f"sqlite:///{tmp / 'dengar.db'}",
        inbox,
        tmp / "spool",
        captcha_max_number=5000,
        without_javascript_per_hour=5,
        map=f'{{tile_url: "{BLANK_TILE}", zoom: 12}}',
    )
    app = App.open(settings)
    try:
        with serve(create_app(app)) as base_url:
            yield base_url, app
    finally:
        app.engine.dispose()


def _run(app: App) -> None:
    # Playwright's sync API holds this thread's event loop: the pipeline
    # runs in a thread of its own
    with ThreadPoolExecutor(1) as pool:
        summary = pool.submit(asyncio.run, Runner(app).run_once()).result()
    assert not summary.errors


def _case(app: App, number: str) -> ComplaintRow:
    with app.sessions() as session:
        return session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()


def _context(browser, form_live, width, **options):
    return browser.new_context(
        base_url=form_live[0], viewport={"width": width, "height": 900}, **options
    )


def _fill(page, title="Jalan berlubang di depan SDN 3", text=TEXT):
    page.fill("#f-judul", title)
    page.fill("#f-isi", text)
    page.fill("#f-tanggal", "2026-11-20")
    page.select_option("#f-kecamatan", "Pulau Laut Utara")
    page.select_option("#f-desa", "Semayap")


def _verify_captcha(page):
    page.click("altcha-widget input[type=checkbox]")
    page.wait_for_selector("altcha-widget [data-state=verified]", timeout=30_000)


@pytest.mark.parametrize("width", [390, 1366])
def test_report_with_photos_and_a_pin_then_track_it(
    browser, form_live, width, tmp_path
):
    context = _context(browser, form_live, width)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/lapor")
        _fill(page)
        page.wait_for_selector("#map .leaflet-container, #map.leaflet-container")
        page.locator("#map").click()  # the centre of the map
        assert not errors
        assert page.input_value("#f-sumber") == "pin"
        assert page.input_value("#f-lat")
        files = []
        for i in range(2):
            path = tmp_path / f"foto{i}.jpg"
            path.write_bytes(photo())
            files.append(str(path))
        page.set_input_files("#f-lampiran", files)
        page.check("#k-anonim")
        _verify_captcha(page)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"
        )
        assert not overflow
        shot(page, f"lapor-{width}")
        page.click("#kirim")
        page.wait_for_url(re.compile(r"/lapor/terkirim/"))
        number = page.inner_text("#tracking-no")
        assert NUMBER.fullmatch(number)
        assert "Simpan atau cetak" in page.inner_text("main")
        assert page.is_visible("#print")  # the script shows the print button
        shot(page, f"lapor-terkirim-{width}")
        _run(form_live[1])
        case = _case(form_live[1], number)
        assert case.confidentiality == "anonim"
        assert case.location_lat is not None
        assert abs(case.location_lat - (-3.2)) < 0.5  # the map's centre area
        with form_live[1].sessions() as session:
            stored = session.exec(
                select(AttachmentRow).where(AttachmentRow.complaint_id == case.id)
            ).all()
        assert len(stored) == 2
        page.click("text=Lacak laporan ini")
        page.wait_for_url(re.compile(r"/lacak\?no="))
        assert f"Pengaduan {number}" in page.inner_text("main")
    finally:
        context.close()


# a problem per screen width: each run's report is the most like its own
# first report, whatever the module's other tests sent before
TOPICS = {
    390: (
        ("Jembatan kayu retak", BRIDGE),
        ("Jembatan kayu Semayap retak", "Jembatan kayu di Semayap retak parah."),
    ),
    1366: (
        (
            "Saluran drainase tersumbat",
            "Saluran drainase di Semayap tersumbat sampah, air meluap saat hujan.",
        ),
        (
            "Drainase Semayap tersumbat",
            "Saluran drainase Semayap tersumbat sampah dan meluap.",
        ),
    ),
}


@pytest.mark.parametrize("width", [390, 1366])
def test_already_reported_then_support_it(browser, form_live, tmp_path, width):
    app = form_live[1]
    (title, text), (again_title, again_text) = TOPICS[width]
    # bypass_csp only lets axe-core in; the page is the same
    context = _context(browser, form_live, width, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto("/lapor")
        _fill(page, title, text)
        _verify_captcha(page)
        page.click("#kirim")
        page.wait_for_url(re.compile(r"/lapor/terkirim/"))
        first = page.inner_text("#tracking-no")
        _run(app)
        page.goto("/lapor")
        _fill(page, again_title, again_text)
        chosen = tmp_path / "foto.jpg"
        chosen.write_bytes(photo())
        page.set_input_files("#f-lampiran", [str(chosen)])
        page.click("#check-similar")
        page.wait_for_selector(".similar-list")
        # checked without leaving the page: the chosen photo is still there
        files = page.evaluate("document.getElementById('f-lampiran').files.length")
        assert files == 1
        listing = page.inner_text(".similar")
        assert "Saya juga mengalami ini" in listing
        assert first not in listing  # never another reporter's number
        for word in ("ditutup", "meluap"):
            assert word not in listing  # nor their words
        overflow = page.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"
        )
        assert not overflow
        assert axe_violations(page) == []
        shot(page, f"lapor-serupa-{width}")
        page.check("#dukung-1")
        _verify_captcha(page)
        page.click("#kirim")
        page.wait_for_url(re.compile(r"/lapor/terkirim/"))
        second = page.inner_text("#tracking-no")
        _run(app)
        assert _case(app, second).duplicate_of_id == _case(app, first).id
    finally:
        context.close()


def test_form_works_without_javascript(browser, form_live):
    context = _context(browser, form_live, 390, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/lapor")
        assert not page.is_visible("#map")  # the map needs JavaScript
        page.fill("#f-judul", "Lampu jalan mati")
        page.fill("#f-isi", "Lampu jalan di Jl. Berangas mati semua sejak minggu lalu.")
        page.select_option("#f-kecamatan", "Pulau Laut Utara")
        page.click("#kirim")  # no date: refused, values kept
        assert "Tanggal kejadian wajib diisi." in page.inner_text("main")
        assert page.input_value("#f-judul") == "Lampu jalan mati"
        page.fill("#f-tanggal", "2026-11-21")
        page.click("#kirim")
        page.wait_for_url(re.compile(r"/lapor/terkirim/"))
        assert NUMBER.fullmatch(page.inner_text("#tracking-no"))
    finally:
        context.close()


def test_use_my_location(browser, form_live):
    context = _context(
        browser,
        form_live,
        390,
        geolocation={"latitude": -3.2461, "longitude": 116.2201},
        permissions=["geolocation"],
    )
    page = context.new_page()
    try:
        page.goto("/lapor")
        page.click("#use-location")
        page.wait_for_function("document.getElementById('f-lat').value !== ''")
        assert page.input_value("#f-lat") == "-3.246100"
        assert page.input_value("#f-sumber") == "perangkat"
        assert "dari perangkat Anda" in page.inner_text("#pin-status")
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1366])
def test_no_serious_accessibility_violation(browser, form_live, width):
    context = _context(browser, form_live, width, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto("/lapor")
        found = {"/lapor": axe_violations(page)}
        page.fill("#f-isi", "pendek")
        page.click("#kirim")
        page.wait_for_selector("#error-summary")
        found["/lapor (errors)"] = axe_violations(page)
        _fill(page)
        _verify_captcha(page)
        page.click("#kirim")
        page.wait_for_url(re.compile(r"/lapor/terkirim/"))
        found["/lapor/terkirim"] = axe_violations(page)
        assert found == {k: [] for k in found}
    finally:
        context.close()


def test_photo_gps_suggests_the_location(browser, form_live, tmp_path):
    context = _context(browser, form_live, 390)
    page = context.new_page()
    try:
        page.goto("/lapor")
        path = tmp_path / "IMG_0001.jpg"
        path.write_bytes(photo((-3.2512, 116.2101)))
        page.set_input_files("#f-lampiran", [str(path)])
        page.wait_for_selector("#photo-gps:not([hidden])")
        assert "-3.25120, 116.21010" in page.inner_text("#photo-gps")
        page.click("#use-photo-location")
        assert page.input_value("#f-sumber") == "foto"
        assert page.input_value("#f-lat") == "-3.251200"
        assert "dari foto Anda" in page.inner_text("#pin-status")
    finally:
        context.close()


def test_too_many_files_said_before_sending(browser, form_live, tmp_path):
    context = _context(browser, form_live, 390)
    page = context.new_page()
    try:
        page.goto("/lapor")
        paths = []
        for i in range(4):
            path = tmp_path / f"f{i}.jpg"
            path.write_bytes(photo(None))
            paths.append(str(path))
        page.set_input_files("#f-lampiran", paths)
        assert "Paling banyak 3 berkas lampiran." in page.inner_text("#lampiran-check")
    finally:
        context.close()
