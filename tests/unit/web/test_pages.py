"""The dashboard pages: login, roles, confidentiality, actions."""

from __future__ import annotations

from sqlmodel import col, select

from storage.tables import (
    AuditEvent,
    ComplaintRow,
    OutboxRow,
    StaffNote,
    StatusEvent,
)
from tests.unit.web.conftest import csrf_of, login, make_case


def test_pages_need_a_login_and_come_back_after_it(client, users):
    response = client.get("/kasus/ADU-AAAA-0001", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fkasus%2FADU-AAAA-0001"
    token = csrf_of(client, response.headers["location"])
    done = client.post(
        "/login",
        data={
            "name": "budi",
            "password": "rahasia-sekali-123",
            "csrf_token": token,
            "next": "/kasus/ADU-AAAA-0001",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/kasus/ADU-AAAA-0001"


def test_session_cookie_is_secure_and_httponly(client, users):
    response = login(client, "budi")
    cookie = response.headers["set-cookie"]
    assert "secure" in cookie.lower()
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_no_open_redirect_after_login(client, users):
    for target in (
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        token = csrf_of(client)
        response = client.post(
            "/login",
            data={
                "name": "budi",
                "password": "rahasia-sekali-123",
                "csrf_token": token,
                "next": target,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"
        client.cookies.clear()


def test_wrong_password_then_rate_limited(client, users):
    for _ in range(3):
        assert login(client, "budi", "salah-salah-salah").status_code == 401
    blocked = login(client, "budi")  # even the right password now waits
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan" in blocked.text


def test_login_without_csrf_token_is_refused(client, users):
    client.get("/login")
    response = client.post(
        "/login", data={"name": "budi", "password": "rahasia-sekali-123"}
    )
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_action_without_csrf_token_changes_nothing(client, dengar, users, cases):
    login(client, "budi")
    response = client.post(f"/kasus/{cases['pupr']}/catatan", data={"text": "x"})
    assert response.status_code == 403
    with dengar.sessions() as session:
        assert session.exec(select(StaffNote)).all() == []


def test_staff_do_not_see_rahasia_cases_admin_does(client, users, cases):
    login(client, "budi")
    page = client.get("/")
    assert cases["pupr"] in page.text
    assert cases["pupr_rahasia"] not in page.text
    assert client.get(f"/kasus/{cases['pupr_rahasia']}").status_code == 404
    client.cookies.clear()
    login(client, "admin")
    assert cases["pupr_rahasia"] in client.get("/").text
    assert client.get(f"/kasus/{cases['pupr_rahasia']}").status_code == 200


def test_agency_account_sees_only_its_agency(client, users, cases):
    login(client, "pupr")
    page = client.get("/")
    assert cases["pupr"] in page.text
    assert cases["pupr_rahasia"] in page.text  # assigned agency sees rahasia
    assert cases["dukcapil"] not in page.text
    assert client.get(f"/kasus/{cases['dukcapil']}").status_code == 404
    assert client.get("/lampiran/1").status_code == 404  # DISDUKCAPIL's file
    assert client.get("/triase").status_code == 403


def test_anonim_case_hides_identity_and_masks_pii_outside_admin(client, users, cases):
    login(client, "budi")
    page = client.get(f"/kasus/{cases['pupr_anonim']}").text
    assert "Pelapor ADU-AAAA-0002" not in page
    assert "adu-aaaa-0002@warga.example" not in page
    assert "6302011203900004" not in page
    assert "[NIK ****0004]" in page
    client.cookies.clear()
    login(client, "admin")
    page = client.get(f"/kasus/{cases['pupr_anonim']}").text
    assert "Pelapor ADU-AAAA-0002" in page
    assert "6302011203900004" in page


def test_pii_in_a_plain_case_prompts_to_mark_it_anonim(client, dengar, users, cases):
    with dengar.sessions() as session:
        make_case(
            session, "ADU-DDDD-0001", "PUPR", original_text="KK saya 6302011203900099"
        )
        session.commit()
    login(client, "budi")
    page = client.get("/kasus/ADU-DDDD-0001").text
    assert 'id="pii-prompt"' in page
    assert "NIK/KK" in page
    assert 'id="pii-prompt"' not in client.get(f"/kasus/{cases['pupr']}").text


def test_complaint_text_is_escaped(client, dengar, users):
    with dengar.sessions() as session:
        make_case(
            session,
            "ADU-EEEE-0001",
            "PUPR",
            original_text="<script>alert(1)</script>",
            reporter_name='<img src=x onerror="alert(2)">',
        )
        session.commit()
    login(client, "budi")
    for page in (client.get("/").text, client.get("/kasus/ADU-EEEE-0001").text):
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        in client.get("/kasus/ADU-EEEE-0001").text
    )
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]


def test_filters_and_search(client, users, cases):
    login(client, "budi")
    page = client.get("/", params={"agency": "DISDUKCAPIL"}).text
    assert cases["dukcapil"] in page
    assert cases["pupr"] not in page
    page = client.get("/", params={"status": "received"}).text
    assert cases["late"] in page
    assert cases["pupr"] not in page
    page = client.get("/", params={"q": "AAAA-0001"}).text
    assert cases["pupr"] in page
    assert cases["dukcapil"] not in page
    page = client.get(
        "/", params={"date_from": "2026-11-20", "date_to": "2026-11-20"}
    ).text
    assert "Tidak ada pengaduan yang cocok" in page
    bad = client.get("/", params={"date_from": "kemarin"}).text
    assert "Tanggal dari tidak valid" in bad


def test_overdue_cases_are_highlighted(client, users, cases):
    login(client, "budi")
    page = client.get("/", params={"status": "received"}).text
    assert 'class="overdue"' in page
    assert "TERLAMBAT" in page


def test_verify_reroute_and_note(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    number = cases["late"]
    r = client.post(f"/kasus/{number}/status/verifikasi", data={"csrf_token": token})
    assert r.status_code == 200
    assert "menjadi terverifikasi" in r.text
    r = client.post(
        f"/kasus/{number}/alihkan",
        data={"csrf_token": token, "agency": "DISDUKCAPIL", "note": "soal KTP"},
    )
    assert "dialihkan ke DISDUKCAPIL" in r.text
    client.post(
        f"/kasus/{number}/catatan",
        data={"csrf_token": token, "text": "sudah ditelepon"},
    )
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        assert (row.status, row.agency_code) == ("verified", "DISDUKCAPIL")
        events = session.exec(
            select(StatusEvent).where(StatusEvent.complaint_id == row.id)
        ).all()
        assert [e.actor for e in events] == ["web:budi", "web:budi"]
        queued = session.exec(
            select(OutboxRow).where(
                OutboxRow.kind == "agency", OutboxRow.complaint_id == row.id
            )
        ).all()
        assert [o.target for o in queued] == ["DISDUKCAPIL"]
        assert session.exec(select(StaffNote)).one().text == "sudah ditelepon"


def test_reject_without_reason_is_refused_with_the_reason(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    r = client.post(
        f"/kasus/{cases['pupr']}/status/tolak", data={"csrf_token": token, "note": ""}
    )
    assert "memerlukan pesan untuk pelapor" in r.text
    with dengar.sessions() as session:
        assert (
            session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
            )
            .one()
            .status
            == "dispatched"
        )


def test_agency_account_cannot_use_staff_actions(client, users, cases):
    login(client, "pupr")
    token = csrf_of(client, "/")
    r = client.post(
        f"/kasus/{cases['pupr']}/alihkan",
        data={"csrf_token": token, "agency": "DISDUKCAPIL"},
    )
    assert r.status_code == 403
    r = client.post(
        f"/kasus/{cases['pupr']}/status/verifikasi", data={"csrf_token": token}
    )
    assert r.status_code == 403
    r = client.post(
        f"/kasus/{cases['pupr']}/status/proses",
        data={"csrf_token": token, "note": "dikerjakan"},
    )
    assert "menjadi diproses" in r.text


def test_link_and_unlink_duplicate(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    r = client.post(
        f"/kasus/{cases['late']}/duplikat",
        data={"csrf_token": token, "target": cases["pupr"]},
    )
    assert "ditautkan sebagai duplikat" in r.text
    primary = client.get(f"/kasus/{cases['pupr']}").text
    assert cases["late"] in primary
    r = client.post(
        f"/kasus/{cases['pupr']}/lepas-duplikat",
        data={"csrf_token": token, "duplicate": cases["late"]},
    )
    assert "dilepas" in r.text
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["late"])
        ).one()
        assert row.duplicate_of_id is None
    r = client.post(
        f"/kasus/{cases['pupr']}/duplikat",
        data={"csrf_token": token, "target": cases["pupr"]},
    )
    assert "Gagal" in r.text


def test_marking_rahasia_and_lowering_needs_admin(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    r = client.post(
        f"/kasus/{cases['pupr_anonim']}/kerahasiaan",
        data={"csrf_token": token, "level": "biasa"},
    )
    assert "Hanya admin" in r.text
    r = client.post(
        f"/kasus/{cases['pupr']}/kerahasiaan",
        data={"csrf_token": token, "level": "rahasia"},
    )
    assert r.url.path == "/"  # staff no longer see it
    assert client.get(f"/kasus/{cases['pupr']}").status_code == 404
    with dengar.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
        ).one()
        event = session.exec(
            select(StatusEvent)
            .where(StatusEvent.complaint_id == case.id)
            .order_by(col(StatusEvent.id).desc())
        ).first()
    # the change is in the case history, with who made it and where
    assert event.note == "confidentiality biasa -> rahasia (dasbor)"
    assert "budi" in event.actor


def test_message_the_reporter_goes_through_the_outbox(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    r = client.post(
        f"/kasus/{cases['pupr']}/pesan",
        data={"csrf_token": token, "text": "Mohon kirim foto lokasi"},
    )
    assert "antrean kirim" in r.text
    with dengar.sessions() as session:
        reply = session.exec(select(OutboxRow).where(OutboxRow.kind == "reply")).one()
        assert "Mohon kirim foto lokasi" in reply.payload


def test_attachment_served_safely(client, users, cases):
    login(client, "dukcapil")
    r = client.get("/lampiran/1")
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith('inline; filename="ktp.png"')
    assert "sandbox" in r.headers["content-security-policy"]
    r = client.get("/lampiran/1?unduh=1")
    assert r.headers["content-type"] == "application/octet-stream"


def test_summary_page_draws_charts(client, users, cases):
    login(client, "budi")
    page = client.get("/ringkasan").text
    assert page.count('<svg id="chart-') == 3
    assert "PUPR terlambat: 1" in page


def test_triage_accept_and_dismiss(client, dengar, users, cases):
    with dengar.sessions() as session:
        make_case(session, "ADU-XXXX-0001", None, channel="x", status="triage")
        make_case(session, "ADU-XXXX-0002", None, channel="x", status="triage")
        session.commit()
    login(client, "budi")
    page = client.get("/triase").text
    assert "ADU-XXXX-0001" in page
    token = csrf_of(client, "/triase")
    with dengar.sessions() as session:
        ids = {
            r.tracking_no: r.id
            for r in session.exec(
                select(ComplaintRow).where(ComplaintRow.channel == "x")
            )
        }
    r = client.post(
        f"/triase/{ids['ADU-XXXX-0001']}/terima",
        data={"csrf_token": token, "agency": "PUPR"},
    )
    assert "diterima sebagai kasus untuk PUPR" in r.text
    r = client.post(
        f"/triase/{ids['ADU-XXXX-0002']}/abaikan",
        data={"csrf_token": token, "reason": ""},
    )
    assert "reason is required" in r.text
    r = client.post(
        f"/triase/{ids['ADU-XXXX-0002']}/abaikan",
        data={"csrf_token": token, "reason": "iklan"},
    )
    assert "diabaikan" in r.text
    with dengar.sessions() as session:
        rows = {
            r.tracking_no: r
            for r in session.exec(
                select(ComplaintRow).where(ComplaintRow.channel == "x")
            )
        }
        assert (rows["ADU-XXXX-0001"].status, rows["ADU-XXXX-0001"].agency_code) == (
            "received",
            "PUPR",
        )
        assert rows["ADU-XXXX-0002"].status == "dismissed"
        assert (
            session.exec(select(OutboxRow).where(OutboxRow.kind == "agency"))
            .one()
            .target
            == "PUPR"
        )


def test_outbox_retry_of_a_dead_delivery(client, dengar, users, cases):
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
        ).one()
        session.add(
            OutboxRow(
                kind="agency",
                target="PUPR",
                complaint_id=row.id,
                idempotency_key="dead-1",
                status="dead",
                attempts=10,
                last_error="HTTP 500 from webhook",
            )
        )
        session.commit()
    login(client, "budi")
    page = client.get("/kanal").text
    assert "HTTP 500 from webhook" in page
    assert "ke instansi" in page  # the outbox kind, not "agency"
    assert "<td>agency</td>" not in page
    token = csrf_of(client, "/kanal")
    r = client.post("/kanal/outbox/ulang", data={"csrf_token": token})
    assert "1 kiriman dijadwalkan ulang" in r.text
    with dengar.sessions() as session:
        again = session.exec(
            select(OutboxRow).where(OutboxRow.idempotency_key == "dead-1")
        ).one()
        assert (again.status, again.attempts) == ("pending", 0)
        [entry] = session.exec(
            select(AuditEvent).where(AuditEvent.action == "outbox_retry")
        ).all()
    assert (entry.actor, entry.action, entry.target) == (
        "web:budi",
        "outbox_retry",
        "semua kiriman yang gagal",
    )


def test_api_reference_page_needs_no_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/v1/cases/{tracking_no}/bukan-wewenang" in page.text
    assert "cdn" not in page.text.lower()


def test_the_agency_systems_ticket_number_is_shown_on_the_case(
    client, dengar, cases, users
):
    with dengar.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
        ).one()
        session.add(
            OutboxRow(
                kind="agency",
                target="PUPR",
                complaint_id=case.id,
                idempotency_key=f"{case.tracking_no}/PUPR",
                status="delivered",
                agency_ticket="TKT-004217",
                agency_status="Diproses",
            )
        )
        session.commit()
    login(client, "budi")
    page = client.get(f"/kasus/{cases['pupr']}").text
    assert "Nomor tiket instansi" in page
    assert "TKT-004217 (PUPR)" in page
    assert "status di sistem instansi: Diproses" in page
    other = client.get(f"/kasus/{cases['dukcapil']}").text
    assert "Nomor tiket instansi" not in other


def test_every_answer_carries_the_security_headers(client):
    # a page, a redirect and a file: the browser is told the same each time
    for path in ("/login", "/", "/favicon.ico"):
        answer = client.get(path, follow_redirects=False)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
