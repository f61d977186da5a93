"""The public tracking page in a real browser, with JavaScript off (a
citizen's old phone): look a case up by its number, on a phone and a laptop."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from storage.tables import ComplaintRow, StatusEvent, utcnow
from tests.browser.conftest import shot

MESSAGE = "Tim PUPR sudah meninjau lokasi; penambalan dijadwalkan pekan ini."
NOTE = "Catatan internal: anggaran pemeliharaan tinggal sedikit"


@pytest.fixture(scope="module")
def progressed(live):
    """ADU-7K3M-9Q2D taken up by its agency, with a message and a note."""
    _, app = live
    with app.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == "ADU-7K3M-9Q2D")
        ).one()
        case.status = "in_progress"
        session.add(case)
        session.add(
            StatusEvent(
                complaint_id=case.id,
                status="in_progress",
                note=NOTE,
                message=MESSAGE,
                actor="agency:PUPR",
                created_at=utcnow() - timedelta(hours=2),
            )
        )
        session.commit()
    return "ADU-7K3M-9Q2D"


@pytest.mark.parametrize("width", [390, 1366])
def test_look_up_a_case_without_javascript(browser, live, progressed, width):
    context = browser.new_context(
        base_url=live[0],
        viewport={"width": width, "height": 800},
        java_script_enabled=False,
    )
    page = context.new_page()
    try:
        page.goto("/lacak")
        page.fill("input[name=no]", progressed.lower())  # as a citizen types it
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/lacak\?no="))
        main = page.inner_text("main")
        assert "Pengaduan ADU-7K3M-9Q2D" in main
        assert "sedang ditindaklanjuti" in main
        assert "Dinas Pekerjaan Umum dan Penataan Ruang" in main
        assert MESSAGE in main
        assert "WITA" in main
        assert "anggaran" not in main  # the internal note
        assert "Siti Rahma" not in main  # the reporter
        assert "berlubang besar" not in main  # the complaint text
        # nothing sticks out of a phone's screen
        overflow = page.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"
        )
        assert not overflow
        shot(page, f"tracking-{width}")
    finally:
        context.close()


def test_unknown_number_says_so_politely(page):
    page.goto("/lacak?no=ADU-ZZZZ-9999")
    alert = page.inner_text("[role=alert]")
    assert "tidak kami temukan" in alert
