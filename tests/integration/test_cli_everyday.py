"""What an operator meets daily with the ``dengar`` command (issue 17)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_cli import dengar

CONFIG = str(REPO / "config" / "dengar.example.yaml")


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
