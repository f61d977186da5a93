"""`dengar --help` and `dengar status` import only what they use (the time
is measured by bench/cli.py, never asserted here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from dengar.cli.main import LAZY_COMMANDS, main
from tests.conftest import REPO

HEAVY = ("sqlalchemy", "pydantic", "alembic", "numpy", "dengar.app", "telegram")
# what only the commands that need them may load: the database, the web
# server, the models, the channels' and sinks' client libraries
LIBRARIES = (
    "sqlalchemy", "sqlmodel", "alembic", "fastapi", "starlette", "uvicorn",
    "numpy", "scipy", "sklearn", "rapidfuzz", "telegram", "tweepy", "aio_pika",
    "aiormq", "redis", "httpx", "imapclient", "aiosmtplib", "jinja2",
    "dengar.app", "dengar.pipeline",
)  # fmt: skip


def _modules_after(code: str, cwd: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    env["PYTHONPATH"] = str(REPO)
    probe = (
        "import json, sys\n"
        "from dengar.cli.main import main\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_imports_no_command_module_and_no_database_library(tmp_path):
    code = "main(['--help'], standalone_mode=False)"
    loaded = _modules_after(code, tmp_path)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY}
    assert not {
        m
        for m in loaded
        if m.startswith("dengar.cli.")
        and m not in ("dengar.cli.lazy", "dengar.cli.common", "dengar.cli.main")
    }


def test_the_help_of_every_command_loads_no_library_of_its_work(tmp_path):
    names = sorted(main.list_commands(click.Context(main)))
    code = (
        f"for name in {names!r}:\n"
        "    try:\n"
        "        main([name, '--help'], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    loaded = _modules_after(code, tmp_path)
    assert "dengar.cli.triage" in loaded  # the probe did reach the commands
    assert not {m for m in loaded if m in LIBRARIES or m.split(".")[0] in LIBRARIES}


def test_status_opens_only_the_database(tmp_path):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    config = str(REPO / "config" / "dengar.example.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    env["PYTHONPATH"] = str(REPO)
    subprocess.run(
        [sys.executable, "-m", "dengar", "--config", config, "run", "--once"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    code = f"main(['--config', {config!r}, 'status'], standalone_mode=False)"
    loaded = _modules_after(code, tmp_path)
    # the schema is current: the bare sqlite3 driver reads it; no
    # SQLAlchemy, no migration tool, no channels, no pipeline
    assert "sqlite3" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "sqlmodel")}
    # the example has no http sink: no template to check, no Jinja2
    assert "jinja2" not in loaded
    assert "alembic" not in loaded
    assert "dengar.app" not in loaded
    assert "numpy" not in loaded
    assert "dengar.store" not in loaded


def test_status_creates_a_missing_database(tmp_path):
    config = str(REPO / "config" / "dengar.example.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "dengar", "--config", config, "status", "--json"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["complaints"]["cases"] == 0
    assert (tmp_path / "dengar.db").is_file()


def test_lazy_commands_list_their_own_help():
    ctx = click.Context(main)
    for name, (_, short_help) in LAZY_COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(80) == short_help, name
