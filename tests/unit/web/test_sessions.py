"""Sessions end on the server: a copied cookie is worth nothing after a
logout, a new password or a disabled account."""

from __future__ import annotations

from sqlmodel import select

from dengar.web.auth import add_user, set_active, set_password
from storage.tables import AuditEvent, WebSession
from tests.unit.web.conftest import PASSWORD, csrf_of, login

COOKIE = "dengar_session"


def logged_in(client, name="budi"):
    assert login(client, name).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    return client.cookies.get(COOKIE)


def replay(client, cookie):
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    return client.get("/", follow_redirects=False)


def test_a_cookie_kept_from_before_logout_no_longer_works(client, dengar, users):
    # before: the signed cookie stayed valid for 12 h after "Keluar"
    cookie = logged_in(client)
    token = csrf_of(client, "/")
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    answer = replay(client, cookie)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")
    with dengar.sessions() as session:
        assert session.exec(select(WebSession)).all() == []


def test_logout_ends_only_that_session(client, web, users):
    from fastapi.testclient import TestClient

    with TestClient(web, base_url="https://testserver") as other:
        other_cookie = logged_in(other)
    cookie = logged_in(client)
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert replay(client, cookie).status_code == 303
    assert replay(client, other_cookie).status_code == 200  # budi's other device


def test_a_new_password_ends_every_session_of_the_account(client, dengar, users):
    cookie = logged_in(client)
    admin_cookie = logged_in(client, "admin")
    with dengar.sessions() as session:
        set_password(session, "budi", "kata-sandi-baru-456")
        session.commit()
    assert replay(client, cookie).status_code == 303
    assert replay(client, admin_cookie).status_code == 200
    client.cookies.clear()
    assert login(client, "budi").status_code == 401
    assert login(client, "budi", "kata-sandi-baru-456").status_code == 303


def test_user_add_over_an_existing_account_ends_its_sessions(client, dengar, users):
    cookie = logged_in(client, "pupr")
    with dengar.sessions() as session:
        add_user(session, "pupr", PASSWORD, "agency", "PUPR")
        session.commit()
    assert replay(client, cookie).status_code == 303


def test_a_disabled_account_is_out_at_once_and_cannot_log_in(client, dengar, users):
    cookie = logged_in(client)
    with dengar.sessions() as session:
        set_active(session, "budi", False)
        session.commit()
        assert session.exec(select(WebSession)).all() == []
    assert replay(client, cookie).status_code == 303
    client.cookies.clear()
    assert login(client, "budi").status_code == 401


def test_the_cookie_holds_no_account_id_only_a_token(client, users):
    import base64
    import json

    cookie = logged_in(client)
    data = json.loads(base64.b64decode(cookie.split(".")[0] + "=="))
    assert set(data) == {"sid", "csrf"}


def test_logins_and_logouts_are_in_the_audit_log(client, dengar, users):
    login(client, "budi", "salah-salah-salah")
    logged_in(client)
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    with dengar.sessions() as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("web:budi", "login_failed"),
        ("web:budi", "login"),
        ("web:budi", "logout"),
    ]
    assert all(r.address == "testclient" for r in rows)
    assert all("salah" not in (r.detail or "") for r in rows)


def test_changing_ones_own_password_ends_the_other_sessions(client, web, users):
    from fastapi.testclient import TestClient

    with TestClient(web, base_url="https://testserver") as phone:
        phone_cookie = logged_in(phone)
    logged_in(client)
    token = csrf_of(client, "/akun")
    wrong = client.post(
        "/akun/sandi",
        data={
            "csrf_token": token,
            "current": "salah",
            "new": "x" * 12,
            "repeat": "x" * 12,
        },
    )
    assert wrong.status_code == 400
    assert "Kata sandi saat ini salah." in wrong.text
    differ = client.post(
        "/akun/sandi",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": "a" * 12,
            "repeat": "b" * 12,
        },
    )
    assert "tidak sama" in differ.text
    short = client.post(
        "/akun/sandi",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": "pendek",
            "repeat": "pendek",
        },
    )
    assert "Kata sandi minimal 10 karakter." in short.text
    done = client.post(
        "/akun/sandi",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": "sandi-baru-budi-1",
            "repeat": "sandi-baru-budi-1",
        },
    )
    assert "Sesi di perangkat lain telah diakhiri." in done.text
    assert client.get("/", follow_redirects=False).status_code == 200  # still in
    assert replay(client, phone_cookie).status_code == 303  # the phone is out
    client.cookies.clear()
    assert login(client, "budi", "sandi-baru-budi-1").status_code == 303
