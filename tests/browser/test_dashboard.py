"""The dashboard in a real browser: a staff member works the day's intake.
The screenshots in docs/screenshots are taken by test_layout.py."""

from __future__ import annotations

import re

from sqlmodel import select

from storage.tables import ComplaintRow
from tests.browser.conftest import PASSWORD


def log_in(page, name="budi"):
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_login_filter_and_open_a_case(page):
    page.goto("/")
    assert page.url.endswith("/login")
    log_in(page)
    assert page.locator("table.cases tbody tr").count() >= 5
    assert page.locator("tr.overdue").count() >= 1  # the 9-day-old case
    page.select_option("select[name=agency]", "PUPR")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"agency=PUPR"))
    numbers = page.locator("table.cases tbody tr td:first-child a").all_inner_texts()
    assert set(numbers) == {"ADU-7K3M-9Q2D", "ADU-7K3M-9Q2E", "ADU-9X4Y-2DEF"}
    page.click("text=ADU-7K3M-9Q2D")
    page.wait_for_url(re.compile(r"/kasus/ADU-7K3M-9Q2D"))
    assert "berlubang besar" in page.inner_text("#original-text")
    image = page.locator("figure.attachment img")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 240


def test_reroute_and_link_a_duplicate(page, live):
    _, app = live
    log_in(page)
    page.goto("/kasus/ADU-7K3M-9Q2E")
    page.select_option("#reroute select[name=agency]", "DISKOMINFO")
    page.fill("#reroute input[name=note]", "perlu dicek dulu")
    page.click("#reroute button")
    assert "dialihkan ke DISKOMINFO" in page.inner_text(".flash")
    page.goto("/kasus/ADU-9X4Y-2DEF")
    page.fill("input[name=target]", "ADU-7K3M-9Q2D")
    page.click("text=Tautkan sebagai duplikat")
    assert "ditautkan sebagai duplikat ADU-7K3M-9Q2D" in page.inner_text(".flash")
    page.goto("/kasus/ADU-7K3M-9Q2D")
    assert page.locator("table.dups").inner_text().count("ADU-9X4Y-2DEF") == 1
    with app.sessions() as session:
        rerouted = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == "ADU-7K3M-9Q2E")
        ).one()
        assert rerouted.agency_code == "DISKOMINFO"
        duplicate = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == "ADU-9X4Y-2DEF")
        ).one()
        primary = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == "ADU-7K3M-9Q2D")
        ).one()
        assert duplicate.duplicate_of_id == primary.id


def test_script_in_a_complaint_shows_as_text(page):
    log_in(page)
    page.goto("/kasus/ADU-8D2F-1ABD")
    assert page.inner_text("#original-text") == "<script>alert(1)</script>"
    page.goto("/")
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('main script').length") == 0


def test_summary_chart_renders(page):
    log_in(page)
    page.goto("/ringkasan")
    bars = page.locator("#chart-per-day rect")
    assert bars.count() >= 3
    box = page.locator("#chart-per-day").bounding_box()
    assert box["width"] > 300
    assert box["height"] > 100
    late = page.locator("#chart-overdue rect[fill='#cf222e']")
    assert (
        max(
            float(w)
            for w in late.evaluate_all("rs => rs.map(r => r.getAttribute('width'))")
        )
        > 0
    )
    assert "1 terlambat" in page.locator("#chart-overdue").text_content()


def test_triage_and_channels_pages(page):
    log_in(page)
    page.goto("/triase")
    assert "lampu jalan" in page.inner_text("main")
    page.goto("/kanal")
    assert "surat" in page.inner_text("main")
