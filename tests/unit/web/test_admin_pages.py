"""The admin's pages (accounts, API keys, audit log) and the smaller
dashboard fixes: agency filter, disabled channels, favicon."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from config.loader import parse_settings
from dengar.app import App
from dengar.web.app import create_app
from storage.tables import AgencyApiKey, AuditEvent, WebUser
from tests.conftest import BASE_CONFIG
from tests.unit.web.conftest import NOW, PASSWORD, WEB_EXTRA, csrf_of, login


def post(client, path, **data):
    data["csrf_token"] = csrf_of(client, "/admin")
    return client.post(path, data=data)


def test_only_admins_see_the_admin_pages(client, users):
    for name in ("budi", "pupr"):
        client.cookies.clear()
        login(client, name)
        assert client.get("/admin").status_code == 403
        assert client.get("/audit").status_code == 403
        assert 'href="/admin"' not in client.get("/").text
    client.cookies.clear()
    login(client, "admin")
    assert client.get("/admin").status_code == 200
    assert 'href="/audit"' in client.get("/").text


def test_admin_adds_disables_and_resets_an_account(client, web, dengar, users):
    login(client, "admin")
    page = post(
        client,
        "/admin/pengguna",
        name="sari",
        role="agency",
        agency="DISDUKCAPIL",
        password="sandi-sari-1234",
    )
    assert "Akun sari disimpan." in page.text
    short = post(client, "/admin/pengguna", name="x", role="staff", password="pendek")
    assert "Kata sandi minimal 10 karakter." in short.text
    with TestClient(web, base_url="https://testserver") as sari:
        assert login(sari, "sari", "sandi-sari-1234").status_code == 303
        assert sari.get("/", follow_redirects=False).status_code == 200
        done = post(client, "/admin/pengguna/sari/nonaktifkan")
        assert "Akun sari dinonaktifkan; sesinya telah diakhiri." in done.text
        assert sari.get("/", follow_redirects=False).status_code == 303
        post(client, "/admin/pengguna/sari/aktifkan")
        assert login(sari, "sari", "sandi-sari-1234").status_code == 303
        done = post(client, "/admin/pengguna/sari/sandi", password="sandi-baru-5678")
        assert "Kata sandi sari diganti" in done.text
        assert sari.get("/", follow_redirects=False).status_code == 303
        assert login(sari, "sari", "sandi-baru-5678").status_code == 303
    refused = post(client, "/admin/pengguna/admin/nonaktifkan")
    assert "tidak dapat menonaktifkan akun Anda sendiri" in refused.text
    missing = post(client, "/admin/pengguna/siapa/nonaktifkan")
    assert "Akun siapa tidak ditemukan." in missing.text
    with dengar.sessions() as session:
        sari_row = session.exec(select(WebUser).where(WebUser.name == "sari")).one()
        assert (sari_row.role, sari_row.agency_code) == ("agency", "DISDUKCAPIL")
        events = session.exec(
            select(AuditEvent).where(AuditEvent.actor == "web:admin")
        ).all()
    assert [(e.action, e.target) for e in events if e.action != "login"] == [
        ("user_add", "sari"),
        ("user_disable", "sari"),
        ("user_enable", "sari"),
        ("user_password", "sari"),
    ]
    assert all("sandi-" not in (e.detail or "") for e in events)


def test_admin_rotates_and_revokes_an_agency_key(client, dengar, users):
    login(client, "admin")
    page = post(client, "/admin/kunci/PUPR/buat")
    assert page.headers["cache-control"] == "no-store"
    key = re.search(r'<code class="secret">(dgk_[^<]+)</code>', page.text).group(1)
    assert client.get("/api/v1/cases", headers={"X-API-Key": key}).is_success
    listed = client.get("/admin").text
    assert key not in listed  # shown once, then only its first characters
    assert key[:8] in listed
    done = post(client, "/admin/kunci/PUPR/cabut")
    assert "Kunci API PUPR dicabut." in done.text
    assert client.get("/api/v1/cases", headers={"X-API-Key": key}).status_code == 401
    with dengar.sessions() as session:
        assert session.get(AgencyApiKey, "PUPR") is None
    assert post(client, "/admin/kunci/NOPE/buat").status_code == 404


def test_audit_log_page_in_local_time_with_its_zone(client, dengar, users, cases):
    with dengar.sessions() as session:
        session.add(
            AuditEvent(
                created_at=NOW,
                actor="web:budi",
                action="case_status",
                target=cases["pupr"],
                detail="dispatched -> in_progress",
                address="192.0.2.7",
            )
        )
        session.commit()
    login(client, "admin")
    page = client.get("/audit?aksi=case_status").text
    # 03:00 UTC is 11:00 in Makassar (WITA)
    assert "27-11-2026 11:00:00 WITA" in page
    assert "ubah status kasus" in page
    assert "diteruskan → diproses" in page
    assert f'href="/kasus/{cases["pupr"]}"' in page
    assert "192.0.2.7" in page
    assert "masuk" not in page.split("<tbody>")[1]  # filtered to status changes


def test_an_agency_account_gets_no_agency_filter(client, users, cases):
    # before: a PUPR account could "filter" by DISDUKCAPIL and see nothing
    login(client, "pupr")
    assert 'name="agency"' not in client.get("/").text
    client.cookies.clear()
    login(client, "budi")
    assert '<select name="agency">' in client.get("/").text


def test_a_disabled_channel_is_not_called_healthy(tmp_path, example_maildir):
    text = BASE_CONFIG.format(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        maildir=example_maildir,
        after_import="keep",
        batch_size=100,
    ).replace(
        "agencies:",
        "  - {name: tg, type: telegram, enabled: false, token: '1:x'}\nagencies:",
        1,
    )
    app = App.open(parse_settings(text + WEB_EXTRA))
    from dengar.web.auth import add_user

    with app.sessions() as session:
        add_user(session, "budi", PASSWORD, "staff")
        session.commit()
    with TestClient(create_app(app), base_url="https://testserver") as client:
        login(client, "budi")
        page = client.get("/kanal").text
    app.engine.dispose()
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"<tr[^>]*><td>([\w-]+)</td>.*?<td class=\"health\">(.*?)</td>",
            page,
            re.S,
        )
    }
    assert rows == {"surat": "ya", "tg": "— (nonaktif)"}


def test_favicon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.content
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").text
