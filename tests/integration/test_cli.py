"""The `dengar` command as a newcomer runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DENGAR = [sys.executable, "-m", "dengar"]


def dengar(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    return subprocess.run(
        [*DENGAR, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_example_run_status_and_rerun(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    config = REPO / "config" / "dengar.example.yaml"
    first = dengar("--config", str(config), "run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "contoh-maildir" in first.stdout
    status = dengar(
        "--config", str(config), "status", "--json", "--cases", cwd=tmp_path
    )
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["format"] == 1
    assert report["complaints"]["cases"] == 12
    assert report["complaints"]["ignored"] == 1
    # the two reports of the Jalan Raya Stagen pothole: linked, delivered once
    assert report["complaints"]["duplicates"] == 1
    assert report["deliveries"]["delivered"] == 11
    linked = [c for c in report["cases"] if c["duplicate_of"]]
    assert len(linked) == 1
    assert linked[0]["category"] == "jalan"
    assert linked[0]["duplicate_score"] >= 75
    agencies = {a["code"]: a["cases"] for a in report["agencies"]}
    assert agencies["PUPR"] == 3
    assert agencies["DISDUKCAPIL"] == 2
    channel = report["channels"][0]
    assert channel["name"] == "contoh-maildir"
    assert channel["healthy"]
    assert all(c["tracking_no"].startswith("KTB-") for c in report["cases"])
    queue = dengar("--config", str(config), "queue", "pupr", "--json", cwd=tmp_path)
    assert len(json.loads(queue.stdout)) == 2  # the duplicate is not sent again
    again = dengar("--config", str(config), "run", "--once", cwd=tmp_path)
    assert again.returncode == 0
    rerun = json.loads(
        dengar("--config", str(config), "status", "--json", cwd=tmp_path).stdout
    )
    assert rerun["complaints"] == report["complaints"]
    assert rerun["deliveries"] == report["deliveries"]


def test_bad_config_exits_2_and_touches_no_database(tmp_path: Path) -> None:
    (tmp_path / "dengar.yaml").write_text(
        "agencies: [{code: PUPR, name: PUPR}]\nrouting: {default_agency: PUPRR}\n"
        "channels: [{name: bot, type: telegram}]\n",
        encoding="utf-8",
    )
    result = dengar("run", "--once", cwd=tmp_path)
    assert result.returncode == 2
    assert "channels[0].token (line 3): field required" in result.stderr
    assert "routing.default_agency (line 2): unknown agency 'PUPRR'" in result.stderr
    assert not (tmp_path / "dengar.db").exists()


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    result = dengar("init", "site", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "dengar.yaml").exists()
    assert (
        tmp_path / "dengar.db"
    ).exists()  # database_url is relative to where you run
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    check = dengar("--config", "site/dengar.yaml", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "channel contoh-maildir: OK" in check.stdout


def test_import_eml_files_twice_creates_nothing_new(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    config = str(REPO / "config" / "dengar.example.yaml")
    source = sorted((tmp_path / "examples" / "inbox" / "new").iterdir())[:3]
    eml_dir = tmp_path / "backfill"
    eml_dir.mkdir()
    for i, path in enumerate(source):
        (eml_dir / f"{i}.eml").write_bytes(path.read_bytes())
    first = dengar("--config", config, "import", str(eml_dir), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new cases 3" in first.stdout
    again = dengar("--config", config, "import", str(eml_dir), cwd=tmp_path)
    assert "new cases 0" in again.stdout
    assert "already stored 3" in again.stdout
