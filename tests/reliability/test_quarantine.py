"""``dengar quarantine list|show|retry``: every rejected item is visible with
its reason and can be replayed through the pipeline once the cause is fixed."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlmodel import Session, update

from dengar.cli.main import main
from storage.engine import make_engine
from storage.tables import OutboxRow, QuarantineRow
from tests.fakes.telegram_api import TOKEN
from tests.reliability.harness import make_maildir, query, write_mail


def _config(tmp_path, db_url, maildir, max_bytes):
    path = tmp_path / "dengar.yaml"
    path.write_text(
        f"""
database_url: {db_url}
channels:
  - {{name: surat, type: maildir, path: '{maildir}', after_import: keep,
     max_message_bytes: {max_bytes}}}
  - {{name: tg, type: telegram, token: '{TOKEN}', enabled: false}}
  - {{name: x, type: x, bearer_token: t, enabled: false, mentions_of: [Pemkab]}}
agencies: [{{code: DISKOMINFO, name: Diskominfo}}]
routing: {{default_agency: DISKOMINFO}}
"""
    )
    return path


def _cli(config, *args):
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    if result.exit_code == 2:
        print(result.output)
    return result


def test_an_oversized_mail_is_listed_shown_and_replayed_after_the_limit_is_raised(
    tmp_path,
):
    db_url = f"sqlite:///{tmp_path / 'd.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    message_id = write_mail(maildir, "besar", body="Jalan rusak parah. " * 200)
    write_mail(maildir, "kecil")
    config = _config(tmp_path, db_url, maildir, max_bytes=2000)
    assert _cli(config, "run", "--once").exit_code == 0

    listed = _cli(config, "quarantine", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [held] = json.loads(listed.output)
    assert held["channel"] == "surat"
    assert "over max_message_bytes (2000)" in held["reason"]
    shown = _cli(config, "quarantine", "show", str(held["id"]))
    assert "Subject: Jalan berlubang besar" in shown.output
    assert shown.output.startswith(f"id: {held['id']}")
    table = _cli(config, "quarantine", "list")
    assert "WITA" in table.output  # held since, in the configured zone

    # the operator raises the limit, then replays
    config = _config(tmp_path, db_url, maildir, max_bytes=1_000_000)
    replayed = _cli(config, "quarantine", "retry", "--all")
    assert replayed.exit_code == 0, replayed.output
    assert "case" in replayed.output
    assert json.loads(_cli(config, "quarantine", "list", "--json").output) == []
    [(kind, tracking)] = query(
        db_url,
        "SELECT kind, tracking_no FROM complaint WHERE message_id = :m",
        m=message_id,
    )
    assert kind == "case"
    assert tracking.startswith("ADU-")
    # replayed once; a second retry finds nothing and the next poll adds nothing
    assert _cli(config, "run", "--once").exit_code == 0
    [(count,)] = query(db_url, "SELECT count(*) FROM complaint")
    assert count == 2


def _hold(db_url, channel, external_id, data, reason="test"):
    engine = make_engine(db_url)
    with Session(engine) as session:
        row = QuarantineRow(
            channel=channel, external_id=external_id, reason=reason, data=data
        )
        session.add(row)
        session.commit()
        row_id = row.id
    engine.dispose()
    return row_id


def test_telegram_and_x_items_replay_from_their_json_and_bad_ones_stay_held(
    tmp_path,
):
    db_url = f"sqlite:///{tmp_path / 'd.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    config = _config(tmp_path, db_url, maildir, max_bytes=10_000)
    assert _cli(config, "run", "--once").exit_code == 0
    update = {
        "update_id": 5001,
        "message": {
            "message_id": 7,
            "date": 1764200000,
            "chat": {"id": 4242, "type": "private", "first_name": "Sari"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Sari"},
            "text": "Sampah menumpuk di pasar",
        },
    }
    good_tg = _hold(db_url, "tg", "update:5001", json.dumps(update).encode())
    bad_tg = _hold(db_url, "tg", "update:5002", b'{"update_id": 5002, "message": 3}')
    post = {
        "id": "1600000000000000123",
        "text": "@Pemkab banjir di jalan",
        "author_id": "9",
    }
    good_x = _hold(db_url, "x", "1600000000000000123", json.dumps(post).encode())
    not_json = _hold(db_url, "x", "invalid:abc", b"\xff\xfe not json")

    result = _cli(config, "quarantine", "retry", str(good_tg), str(bad_tg),
                  str(good_x), str(not_json), "999")  # fmt: skip
    assert result.exit_code == 1  # some stay held, one does not exist
    out = result.output
    assert "message is not an object" in out
    assert "not JSON" in out
    assert "not found" in out
    held = {
        r["id"] for r in json.loads(_cli(config, "quarantine", "list", "--json").output)
    }
    assert held == {bad_tg, not_json}
    # the admin's /audit names each item that was replayed, not those kept
    audited = query(db_url, "SELECT actor, action, target, detail FROM audit_event")
    assert sorted(row[1:] for row in audited) == [
        ("quarantine_retry", f"#{good_tg}", "tg"),
        ("quarantine_retry", f"#{good_x}", "x"),
    ]
    assert all(row[0].startswith("cli") for row in audited)
    rows = query(db_url, "SELECT channel, external_id, kind, clean_text FROM complaint")
    assert sorted((r[0], r[2]) for r in rows) == [("tg", "case"), ("x", "case")]
    assert any("Sampah menumpuk" in r[3] for r in rows)


def test_an_outbox_retry_from_the_cli_is_in_the_audit_log(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'd.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    write_mail(maildir, "kecil")
    config = _config(tmp_path, db_url, maildir, max_bytes=10_000)
    assert _cli(config, "run", "--once").exit_code == 0
    [(row_id,)] = query(db_url, "SELECT id FROM outbox WHERE kind = 'agency'")
    engine = make_engine(db_url)
    with Session(engine) as session:
        session.execute(
            update(OutboxRow).where(OutboxRow.id == row_id).values(status="dead")
        )
        session.commit()
    engine.dispose()

    one = _cli(config, "outbox", "retry", str(row_id))
    assert one.exit_code == 0, one.output
    every = _cli(config, "outbox", "retry", "--dead")
    assert every.exit_code == 0, every.output

    audited = query(db_url, "SELECT action, target FROM audit_event ORDER BY id")
    assert [tuple(row) for row in audited] == [
        ("outbox_retry", f"#{row_id}"),
        ("outbox_retry", "semua kiriman yang gagal"),
    ]
