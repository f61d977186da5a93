"""The public tracking page /lacak: what a citizen with a number may read,
and everything it must never show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import select

from dengar.web.app import create_app
from dengar.web.ratelimit import RateLimiter
from dispatcher.status import CaseStatus, change_status
from storage.tables import ComplaintRow
from tests.unit.web.conftest import NOW, WEB_EXTRA, make_case

NOTE = "Catatan internal: kontraktor lama bermasalah, jangan disebar"
MESSAGE = (
    "Terima kasih Pelapor ADU-AAAA-0001, tim kami akan menambal jalan "
    "pada minggu ini. Hubungi 081234567890 bila perlu."
)


def _change(dengar, number, status, note=None, message=None):
    with dengar.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        change_status(
            session, case, status, note, "agency:PUPR", lambda r, t: None, message
        )
        session.commit()


@pytest.fixture
def public(web):
    # no login, and no cookies carried between requests
    with TestClient(web, base_url="https://testserver") as c:
        yield c


def test_shows_status_history_agency_and_message_in_local_time(dengar, cases, public):
    _change(dengar, cases["pupr"], CaseStatus.IN_PROGRESS, NOTE, MESSAGE)
    page = public.get("/lacak", params={"no": "adu-aaaa-0001"})  # as typed
    assert page.status_code == 200
    assert "ADU-AAAA-0001" in page.text
    assert "sedang ditindaklanjuti" in page.text  # the citizen's wording
    assert "diteruskan ke instansi" in page.text
    assert "Dinas PUPR" in page.text
    assert "tim kami akan menambal jalan" in page.text
    # received 1 day before NOW (03:00 UTC) = 26-11-2026 11:00 WITA
    assert "26-11-2026 11:00 WITA" in page.text
    assert "set-cookie" not in page.headers  # a public page starts no session
    assert page.headers["cache-control"] == "no-store"


def test_internal_note_identity_and_text_never_shown(dengar, cases, public):
    _change(dengar, cases["pupr"], CaseStatus.IN_PROGRESS, NOTE, MESSAGE)
    page = public.get("/lacak", params={"no": cases["pupr"]}).text
    assert "kontraktor lama" not in page  # the internal note
    assert "agency:PUPR" not in page  # who made the change
    assert "Keluhan ADU-AAAA-0001" not in page  # the complaint text
    assert "adu-aaaa-0001@warga.example" not in page
    # the message greets the reporter by name: the name is masked, and so is
    # a phone number in it
    assert "Pelapor ADU-AAAA-0001" not in page
    assert "081234567890" not in page
    assert "[identitas disembunyikan]" in page


def test_anonim_case_shows_nothing_identifying(dengar, cases, public):
    _change(
        dengar,
        cases["pupr_anonim"],
        CaseStatus.IN_PROGRESS,
        message="Bapak/Ibu dengan NIK 6302011203900004 akan kami hubungi.",
    )
    page = public.get("/lacak", params={"no": cases["pupr_anonim"]}).text
    assert "sedang ditindaklanjuti" in page
    assert "Pelapor ADU-AAAA-0002" not in page
    assert "adu-aaaa-0002@warga.example" not in page
    assert "6302011203900004" not in page  # the NIK in the message
    assert "081234567890" not in page  # in the complaint text
    assert "NIK saya" not in page


def test_rahasia_case_shows_only_its_status(dengar, cases, public):
    _change(
        dengar,
        cases["pupr_rahasia"],
        CaseStatus.IN_PROGRESS,
        message="Petugas kami sudah memeriksa lokasi di depan rumah Anda.",
    )
    page = public.get("/lacak", params={"no": cases["pupr_rahasia"]}).text
    assert "sedang ditindaklanjuti" in page
    assert "Petugas kami sudah memeriksa" not in page
    assert "Dinas PUPR" not in page
    assert "rahasia" in page  # says why there is nothing more


def test_another_reporters_case_is_not_shown(dengar, cases, public):
    """A report joined to an earlier case follows that case's status and
    messages, but never shows its number or its reporter."""
    with dengar.sessions() as session:
        main = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
        ).one()
        make_case(
            session,
            "ADU-DDDD-0001",
            "PUPR",
            duplicate_of_id=main.id,
            received_at=NOW - timedelta(hours=2),
        )
        session.commit()
    _change(dengar, cases["pupr"], CaseStatus.RESOLVED, message="Jalan sudah ditambal.")
    page = public.get("/lacak", params={"no": "ADU-DDDD-0001"}).text
    assert "selesai ditindaklanjuti" in page
    assert "Jalan sudah ditambal." in page
    assert "digabungkan" in page
    assert cases["pupr"] not in page
    assert "Pelapor ADU-AAAA-0001" not in page


def test_unknown_and_malformed_numbers_get_the_same_answer(dengar, cases, public):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "FROM complaint" in statement:
            statements.append(statement)

    event.listen(dengar.engine, "before_cursor_execute", count)
    try:
        answers = {}
        typed_in = (
            "ADU-ZZZZ-9999",
            "ADU-ZZ!Z-99",
            "bukan nomor",
            "XYZ-AAAA-0001",
            "ADU-" + "7" * 4_000,  # oversize: cut, answered alike
        )
        for typed in typed_in:
            statements.clear()
            page = public.get("/lacak", params={"no": typed})
            echoed = typed[:64]
            body = page.text.replace(echoed.replace("!", "&#33;"), "{no}")
            body = body.replace(echoed, "{no}")
            answers[typed] = (page.status_code, body, len(statements))
    finally:
        event.remove(dengar.engine, "before_cursor_execute", count)
    codes = {a[0] for a in answers.values()}
    bodies = {a[1] for a in answers.values()}
    lookups = {a[2] for a in answers.values()}
    assert codes == {200}
    assert len(bodies) == 1, "the page differs between unknown and malformed"
    assert lookups == {1}, "every answer looks the number up once"
    assert "tidak kami temukan" in next(iter(bodies))


def test_dismissed_item_reads_as_unknown(dengar, cases, public):
    with dengar.sessions() as session:
        make_case(session, "ADU-EEEE-0001", None, status="dismissed")
        session.commit()
    dismissed = public.get("/lacak", params={"no": "ADU-EEEE-0001"}).text
    unknown = public.get("/lacak", params={"no": "ADU-EEEE-0002"}).text
    assert dismissed.replace("0001", "0002") == unknown


def test_empty_form(public, cases):
    page = public.get("/lacak")
    assert page.status_code == 200
    assert 'name="no"' in page.text
    assert "tidak kami temukan" not in page.text


def test_lookups_are_limited_per_address(make_settings, cases):
    from dengar.app import App

    app = App.open(make_settings(extra=WEB_EXTRA + "  tracking_per_minute: 3\n"))
    try:
        with TestClient(create_app(app), base_url="https://testserver") as c:
            codes = [
                c.get("/lacak", params={"no": f"ADU-ZZZZ-000{i}"}).status_code
                for i in range(4)
            ]
            refused = c.get("/lacak", params={"no": "ADU-ZZZZ-0009"})
            # the empty form is not a lookup and stays available
            assert c.get("/lacak").status_code == 200
    finally:
        app.engine.dispose()
    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert "Terlalu banyak permintaan" in refused.text
    assert refused.headers["retry-after"] == "60"


def test_rate_limiter_window_and_keys():
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.allow("a")
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")  # another address has its own count
    now[0] = 60.5
    assert limiter.allow("a")  # the window has passed
