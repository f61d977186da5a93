"""Failed logins slow an attacker down without locking everybody out."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from dengar.app import App
from dengar.web.app import create_app
from dengar.web.auth import login_wait, record_login
from storage.tables import LoginAttempt
from tests.unit.web.conftest import (
    NOW,
    PASSWORD,
    WEB_EXTRA,
    add_test_users,
    login,
)

BEHIND_PROXY = WEB_EXTRA + "  trusted_proxies: [10.0.0.5]\n"


def wait(session, name, address, now=NOW):
    return login_wait(session, name, address, 3, 900, 60, now=now)


def fail(session, name, address, at):
    session.add(LoginAttempt(name=name, address=address, ok=False, created_at=at))
    session.flush()


def test_failures_stop_only_the_same_address_and_account(dengar):
    with dengar.sessions() as session:
        for i in range(3):
            fail(session, "budi", "198.51.100.1", NOW - timedelta(minutes=3 - i))
        # until the oldest of the three leaves the 15-minute window
        assert wait(session, "budi", "198.51.100.1") == 12 * 60
        assert wait(session, "siti", "198.51.100.1") == 0  # other accounts go on
        later = NOW + timedelta(minutes=15)
        assert wait(session, "budi", "198.51.100.1", later) == 0


def test_an_attacked_account_slows_down_for_unknown_addresses_only(dengar):
    with dengar.sessions() as session:
        record_login(session, "budi", "192.0.2.10", ok=True, now=NOW)  # office
        session.flush()
        # a botnet: one guess per address, so no pair reaches the limit
        for i in range(8):
            fail(session, "budi", f"203.0.113.{i}", NOW - timedelta(seconds=8 - i))
        last = NOW - timedelta(seconds=1)
        # 8 failures, limit 3: 2**5 = 32 s after the last one
        assert 30 < wait(session, "budi", "198.51.100.99") <= 32
        assert wait(session, "budi", "192.0.2.10") == 0  # the owner is not held
        # the wait is capped: after many more failures, still at most 60 s
        for i in range(40):
            fail(session, "budi", f"203.0.114.{i}", last)
        assert 58 < wait(session, "budi", "198.51.100.99") <= 60


def test_behind_the_proxy_one_client_cannot_lock_out_every_login(make_settings):
    # before: every client had the proxy's address, so 5 wrong passwords for
    # any name locked out every staff login
    app = App.open(make_settings(extra=BEHIND_PROXY))
    add_test_users(app)
    web = create_app(app, clock=lambda: NOW)
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    colleague = {"X-Forwarded-For": "192.0.2.20"}
    with TestClient(
        web, base_url="https://testserver", client=("10.0.0.5", 40000)
    ) as client:
        for name in ("budi", "admin", "tidak-ada"):
            for _ in range(3):
                client.headers.update(attacker)
                assert login(client, name, "salah-salah-salah").status_code == 401
        client.headers.update(attacker)
        blocked = login(client, "budi")
        assert blocked.status_code == 429
        assert "Silakan coba lagi dalam" in blocked.text
        assert int(blocked.headers["Retry-After"]) > 0
        client.cookies.clear()
        # a colleague behind the same proxy logs in to another account ...
        client.headers.update(colleague)
        assert login(client, "pupr").status_code == 303
        client.cookies.clear()
        # ... and where the attacker wrote an address himself, his own is used
        client.headers.update({"X-Forwarded-For": "192.0.2.20, 203.0.113.66"})
        assert login(client, "budi").status_code == 429
    with app.sessions() as session:
        addresses = set(session.exec(select(LoginAttempt.address)).all())
    assert addresses == {"203.0.113.66", "192.0.2.20"}
    app.engine.dispose()


def test_a_client_outside_the_proxy_cannot_forge_its_address(make_settings):
    app = App.open(make_settings(extra=BEHIND_PROXY))
    add_test_users(app)
    web = create_app(app, clock=lambda: NOW)
    with TestClient(
        web, base_url="https://testserver", client=("198.51.100.7", 40000)
    ) as client:
        for i in range(3):
            client.headers["X-Forwarded-For"] = f"203.0.113.{i}"
            assert login(client, "budi", "salah-salah-salah").status_code == 401
        client.headers["X-Forwarded-For"] = "203.0.113.200"
        assert login(client, "budi", PASSWORD).status_code == 429
    app.engine.dispose()


def test_old_attempts_are_forgotten(dengar):
    with dengar.sessions() as session:
        for days in (40, 31, 29, 1):
            fail(session, "budi", "203.0.113.9", NOW - timedelta(days=days))
        record_login(session, "budi", "192.0.2.10", ok=True, now=NOW)
        session.flush()
        ages = sorted(
            (NOW - at).days
            for at in session.exec(select(LoginAttempt.created_at)).all()
        )
    assert ages == [0, 1, 29]
