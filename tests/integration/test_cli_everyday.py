"""What an operator meets daily with the ``dengar`` command (issue 17)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_cli import DENGAR, dengar

CONFIG = str(REPO / "config" / "dengar.example.yaml")
CONFIG_TEXT = (REPO / "config" / "dengar.example.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the example has run once."""
    cwd = tmp_path_factory.mktemp("everyday")
    shutil.copytree(REPO / "examples", cwd / "examples")
    first = dengar("--config", CONFIG, "run", "--once", cwd=cwd)
    assert first.returncode == 0, first.stderr
    return cwd


def _cases(cwd: Path) -> list[dict[str, object]]:
    out = dengar("--config", CONFIG, "status", "--json", "--cases", cwd=cwd)
    assert out.returncode == 0, out.stderr
    cases: list[dict[str, object]] = json.loads(out.stdout)["cases"]
    return cases


def test_status_cases_after_a_link_by_hand_and_in_local_time(ran: Path) -> None:
    cases = _cases(ran)
    pupr = [c for c in cases if c["agency"] == "PUPR" and not c["duplicate_of"]]
    disdik = next(c for c in cases if c["agency"] == "DISDIK")
    linked = dengar(
        "--config",
        CONFIG,
        "dedupe",
        "link",
        str(disdik["tracking_no"]),
        str(pupr[0]["tracking_no"]),
        cwd=ran,
    )
    assert linked.returncode == 0, linked.stderr
    out = dengar("--config", CONFIG, "status", "--cases", cwd=ran)
    assert out.returncode == 0, out.stderr
    # the hand link has no score; it is listed without one
    assert re.search(rf"{disdik['tracking_no']}.*{pupr[0]['tracking_no']}", out.stdout)
    # stored in UTC, read in Kotabaru's time (UTC+8, WITA)
    utc = datetime.fromisoformat(str(disdik["received_at"]))
    local = (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert f"{local} WITA" in out.stdout
    assert utc.strftime("%Y-%m-%dT%H:%M") not in out.stdout


def test_queue_shows_only_what_waits_for_the_agency(ran: Path) -> None:
    cases = _cases(ran)
    waiting = [
        c for c in cases if c["agency"] == "DISDUKCAPIL" and not c["duplicate_of"]
    ]
    assert len(waiting) == 2
    done = dengar(
        "--config",
        CONFIG,
        "case",
        "update",
        str(waiting[0]["tracking_no"]),
        "--status",
        "resolved",
        cwd=ran,
    )
    assert done.returncode == 0, done.stderr
    queue = dengar("--config", CONFIG, "queue", "DISDUKCAPIL", "--json", cwd=ran)
    listed = [item["tracking_no"] for item in json.loads(queue.stdout)]
    assert listed == [waiting[1]["tracking_no"]]
    everything = dengar(
        "--config", CONFIG, "queue", "DISDUKCAPIL", "--all", "--json", cwd=ran
    )
    statuses = {i["tracking_no"]: i["status"] for i in json.loads(everything.stdout)}
    assert statuses[waiting[0]["tracking_no"]] == "resolved"
    assert len(statuses) == 2
    table = dengar("--config", CONFIG, "queue", "DISDUKCAPIL", cwd=ran)
    assert str(waiting[0]["tracking_no"]) not in table.stdout
    assert "WITA" in table.stdout


def test_run_says_what_it_does_without_verbose(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    proc = subprocess.Popen(
        [*DENGAR, "--config", CONFIG, "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (tmp_path / "dengar.db").exists() and _delivered(tmp_path) == 11:
                break
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=60)
    assert proc.returncode == 0, log
    lines = log.splitlines()
    assert any(
        "dengar started: channels contoh-maildir (maildir); "
        "database sqlite:///./dengar.db; web off" in line
        for line in lines
    ), log
    assert any("contoh-maildir: 12 new, 1 duplicate(s), 1 ignored" in x for x in lines)
    assert any("outbox: delivered 11" in line for line in lines), log
    assert lines[-1].endswith("dengar stopped")


def _delivered(cwd: Path) -> int:
    with sqlite3.connect(cwd / "dengar.db") as db:
        try:
            (n,) = db.execute(
                "SELECT count(*) FROM outbox WHERE status = 'delivered'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(n)


def test_the_start_line_masks_the_database_password(caplog) -> None:
    from config.loader import load_settings
    from dengar.cli.main import _announce_start

    settings = load_settings(REPO / "config" / "dengar.example.yaml")
    settings = settings.model_copy(
        update={"database_url": "postgresql+psycopg://dengar:s3cret@db/dengar"}
    )
    with caplog.at_level(logging.INFO, logger="dengar.activity"):
        _announce_start(settings, web=True, worker=False)
    assert "s3cret" not in caplog.text
    assert "postgresql+psycopg://dengar:***@db/dengar" in caplog.text
    assert "web http://127.0.0.1:8080" in caplog.text


@pytest.mark.parametrize("token", ['""', '"${DENGAR_NOT_SET_TOKEN:-}"', '"   "'])
def test_an_empty_token_names_the_channel_and_the_setting(
    tmp_path: Path, token: str
) -> None:
    config = tmp_path / "dengar.yaml"
    config.write_text(
        "channels:\n"
        "  - name: telegram-bot\n"
        "    type: telegram\n"
        f"    token: {token}\n"
        "agencies:\n"
        "  - {code: DISKOMINFO, name: Diskominfo}\n"
        "routing: {default_agency: DISKOMINFO}\n"
    )
    out = dengar("--config", str(config), "status", cwd=tmp_path)
    assert out.returncode == 2
    message = " ".join(out.stderr.split())
    assert "channels[0] (line 2): channel 'telegram-bot': token is empty" in message
    assert "sqlite" not in message
    assert not (tmp_path / "dengar.db").exists()


def test_a_token_the_library_refuses_names_the_channel() -> None:
    from pydantic import SecretStr

    from config.channel_settings import TelegramChannelSettings
    from dengar.app import ChannelSetupError, _build

    # built without validation, as if the config check had missed it
    settings = TelegramChannelSettings.model_construct(
        name="bot", type="telegram", token=SecretStr("")
    )
    with pytest.raises(ChannelSetupError, match=r"channel 'bot' \(telegram\)"):
        _build(settings)


def test_import_counts_duplicates_and_suggests_a_run_only_when_something_waits(
    tmp_path: Path,
) -> None:
    inbox = REPO / "examples" / "inbox" / "new"
    eml_dir = tmp_path / "backfill"
    eml_dir.mkdir()
    for i, path in enumerate(sorted(inbox.iterdir())):
        (eml_dir / f"{i:02}.eml").write_bytes(path.read_bytes())
    first = dengar("--config", CONFIG, "import", str(eml_dir), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = " ".join(first.stdout.split())
    assert "new cases 12 (of which duplicates 1)" in out
    assert "ignored 1" in out
    assert "11 deliveries wait in the outbox: run `dengar run --once`" in out
    again = dengar("--config", CONFIG, "import", str(eml_dir), cwd=tmp_path)
    out = " ".join(again.stdout.split())
    assert "already stored 13" in out
    assert "Nothing waits to be delivered." in out
    assert "run --once" not in out


def test_readme_tells_what_the_quick_start_really_does(ran: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    out = dengar("--config", CONFIG, "status", "--json", cwd=ran)
    real = json.loads(out.stdout)
    # the fixture's later tests link and resolve cases: compare the run's own
    # counts, which those do not change
    shown = re.search(r'"complaints": (\{.*?\}\}),', readme, re.S)
    assert shown is not None
    complaints = json.loads(shown.group(1))
    for key in ("cases", "follow_ups", "ignored", "quarantined"):
        assert complaints[key] == real["complaints"][key], key
    delivered = re.search(r'"deliveries": (\{.*?\}),', readme)
    assert delivered is not None
    assert json.loads(delivered.group(1)) == real["deliveries"]
    prose = " ".join(readme.split())
    cases = real["complaints"]["cases"]
    sent = real["deliveries"]["delivered"]
    assert f"{cases} cases, of which {sent} are delivered" in prose


def test_docs_use_the_examples_prefix_and_no_ones_own_paths() -> None:
    prefix = "KTB"
    assert f"tracking_prefix: {prefix}" in CONFIG_TEXT
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for path in docs:
        text = path.read_text(encoding="utf-8")
        others = {
            m for m in re.findall(r"\b([A-Z]{2,8})-(?:XXXX|[0-9A-Z]{4}-)", text)
        } - {prefix}
        assert not others, f"{path.name} shows tracking numbers {others}"
    # commands a newcomer copies must work in their clone, not one machine
    for path in [*docs, *sorted((REPO / "bench").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"/(tmp|home|work)/\S*venv", text), path.name
