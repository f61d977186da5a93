"""``dengar user add``, ``dengar agency key``, ``dengar serve`` and
``dengar run --web`` as an operator runs them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO
from tests.services import free_port

DENGAR = [sys.executable, "-m", "dengar"]


def config_file(tmp_path: Path, port: int = 8080) -> Path:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    text = (REPO / "config" / "dengar.example.yaml").read_text()
    # replace the example's web: and sla: blocks, its last two sections
    text = text[: text.index("\nweb:\n")]
    text += (
        f"\nweb:\n  port: {port}\n  secret_key: cli-test-secret\n"
        "  cookie_secure: false\n"
    )
    path = tmp_path / "dengar.yaml"
    path.write_text(text)
    shutil.copy(REPO / "config" / "gazetteer.kotabaru.yaml", tmp_path)
    return path


def dengar(*args: str, cwd: Path, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    return subprocess.run(
        [*DENGAR, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for(url: str, proc: subprocess.Popen) -> httpx.Response:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_user_add_and_agency_key(tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    ok = dengar(
        "--config",
        config,
        "user",
        "add",
        "budi",
        "--role",
        "staff",
        "--password-stdin",
        cwd=tmp_path,
        stdin="kata-sandi-panjang\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "user budi: staff" in ok.stdout
    short = dengar(
        "--config",
        config,
        "user",
        "add",
        "ani",
        "--role",
        "staff",
        "--password-stdin",
        cwd=tmp_path,
        stdin="pendek\n",
    )
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    unknown = dengar(
        "--config",
        config,
        "user",
        "add",
        "x",
        "--role",
        "agency",
        "--agency",
        "PUPRR",
        "--password-stdin",
        cwd=tmp_path,
        stdin="kata-sandi-panjang\n",
    )
    assert unknown.returncode == 2
    assert "unknown agency 'PUPRR'" in unknown.stderr
    first = dengar("--config", config, "agency", "key", "pupr", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key.startswith("dgk_")
    assert len(key) > 40
    assert "not shown again" in first.stderr
    second = dengar("--config", config, "agency", "key", "PUPR", cwd=tmp_path)
    assert second.stdout.strip() != key
    # only the hash is stored
    assert key.encode() not in (tmp_path / "dengar.db").read_bytes()


@contextlib.contextmanager
def running(*args: str, cwd: Path):
    """The command in the background; SIGTERM at the end, exit status checked."""
    log = cwd / "out.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*DENGAR, *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = str(config_file(tmp_path, port))
    with running("--config", config, "serve", cwd=tmp_path) as proc:
        health = wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        assert health.json() == {"status": "ok"}
        login = httpx.get(f"http://127.0.0.1:{port}/login")
        assert "Masuk ke Dengar" in login.text


def test_run_web_ingests_and_serves_in_one_process(tmp_path: Path) -> None:
    port = free_port()
    config = str(config_file(tmp_path, port))
    wanted = 'dengar_complaints_total{channel="contoh-maildir",kind="case"} 12.0'
    with running("--config", config, "run", "--web", cwd=tmp_path) as proc:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        for _ in range(300):
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            if wanted in metrics:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(metrics)
