"""``dengar user list|disable|enable|reset-password`` and ``dengar agency key
CODE --revoke``: each takes effect at once, and lands in the audit log."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from dengar.cli.main import main
from storage.tables import AuditEvent
from tests.conftest import BASE_CONFIG
from tests.unit.web.conftest import WEB_EXTRA, add_test_users, login


@pytest.fixture
def config(tmp_path, example_maildir, sqlite_url):
    path = tmp_path / "dengar.yaml"
    path.write_text(
        BASE_CONFIG.format(
            database_url=sqlite_url,
            maildir=example_maildir,
            after_import="keep",
            batch_size=100,
        )
        + WEB_EXTRA
    )
    return path


def cli(config, *args, stdin=None):
    return CliRunner().invoke(main, ["--config", str(config), *args], input=stdin)


def test_list_disable_enable_and_reset(config, dengar, web):
    add_test_users(dengar)
    listed = cli(config, "user", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines] == ["admin", "budi", "dukcapil", "pupr"]
    assert "agency" in lines[3]
    assert "PUPR" in lines[3]
    assert "active" in lines[3]
    assert "never" in lines[3]

    with TestClient(web, base_url="https://testserver") as client:
        assert login(client, "budi").status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 200
        disabled = cli(config, "user", "disable", "budi")
        assert disabled.exit_code == 0, disabled.output
        assert "sessions have ended" in disabled.output
        # the open session ends at its next request, not 12 hours later
        assert client.get("/", follow_redirects=False).status_code == 303
        relisted = cli(config, "user", "list").output.splitlines()
        assert "disabled" in relisted[1]
        # the last login in the configured zone, as every time a person reads
        assert relisted[1].endswith(" WITA")
        assert login(client, "budi").status_code == 401
        assert cli(config, "user", "enable", "budi").exit_code == 0
        assert login(client, "budi").status_code == 303

        reset = cli(
            config,
            "user",
            "reset-password",
            "budi",
            "--password-stdin",
            stdin="sandi-baru-yang-panjang\n",
        )
        assert reset.exit_code == 0, reset.output
        assert client.get("/", follow_redirects=False).status_code == 303
        assert login(client, "budi").status_code == 401
        assert login(client, "budi", "sandi-baru-yang-panjang").status_code == 303

    short = cli(
        config, "user", "reset-password", "budi", "--password-stdin", stdin="x\n"
    )
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
    missing = cli(config, "user", "disable", "siapa")
    assert missing.exit_code == 2
    assert "no user 'siapa'" in missing.output

    with dengar.sessions() as session:
        actions = [
            (e.action, e.target)
            for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
            if e.actor.startswith("cli:")
        ]
    assert actions == [
        ("user_disable", "budi"),
        ("user_enable", "budi"),
        ("user_password", "budi"),
    ]


def test_revoke_an_agency_key(config, dengar, web):
    made = cli(config, "agency", "key", "PUPR")
    assert made.exit_code == 0, made.output
    key = made.output.splitlines()[0]
    with TestClient(web, base_url="https://testserver") as client:
        assert client.get("/api/v1/cases", headers={"X-API-Key": key}).is_success
        revoked = cli(config, "agency", "key", "pupr", "--revoke")
        assert revoked.exit_code == 0, revoked.output
        assert "API key of PUPR revoked" in revoked.output
        answer = client.get("/api/v1/cases", headers={"X-API-Key": key})
        assert answer.status_code == 401
    again = cli(config, "agency", "key", "PUPR", "--revoke")
    assert "PUPR had no API key" in again.output
    with dengar.sessions() as session:
        events = session.exec(select(AuditEvent)).all()
    assert [e.action for e in events] == ["key_rotate", "key_revoke"]
    assert all(key not in f"{e.target} {e.detail}" for e in events)
