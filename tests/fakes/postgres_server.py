"""A throwaway PostgreSQL server a test may crash and restart.

The machine's shared PostgreSQL serves every other test, so a test that needs
the database to really go away (issue 9: "PostgreSQL restarted mid-batch")
gets a cluster of its own: ``initdb`` into a fresh temp dir, ``postgres`` on a
free port, trust authentication, no fsync (the data is thrown away).
``restart("immediate")`` is a crash: the server drops every connection and
rolls back every open transaction, then replays its WAL on the next start,
exactly as after a power cut; ``"fast"`` is an operator's clean restart.

PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` user (Debian's package creates it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import free_port, need


def _bin_dir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return str(Path(found).parent)
    # Debian keeps the server binaries off PATH, one directory per version
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(versions[-1]).parent) if versions else None


@dataclass
class PostgresServer:
    """One running cluster; ``url`` is a SQLAlchemy URL to its ``postgres``
    database."""

    bin_dir: str
    data: Path
    port: int
    owner: str | None  # run the binaries as this user (when we are root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [f"{self.bin_dir}/{args[0]}", *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -k {self.data} -c fsync=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l",
            str(self.data / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``fast`` (clean) or ``immediate`` (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (``immediate`` by default: a crash) and start again."""
        self.stop(mode)
        self.start()

    def log(self) -> str:
        """The server's own log (to show why a start failed)."""
        try:
            return (self.data / "server.log").read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh cluster for the duration of the block (skipped, or failed in
    CI, when the PostgreSQL server binaries are not installed)."""
    bin_dir = _bin_dir()
    need(bin_dir is not None, "PostgreSQL server binaries (initdb) not installed")
    assert bin_dir is not None
    owner = None
    if os.geteuid() == 0:
        need(_user_exists("postgres"), "running as root without a 'postgres' user")
        owner = "postgres"
    base = Path(tempfile.mkdtemp(prefix="dengar-pg-"))
    data = base / "data"
    data.mkdir()
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (base, data):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin_dir, data, free_port(), owner)
    try:
        server._run(
            "initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
