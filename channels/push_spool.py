"""A durable inbox for items a source pushes to us (webhooks).

A push receiver answers the sender only once the raw body is on disk; the
channel then reads the spool like a maildir and removes a file only in
``after_commit``, after the pipeline's transaction stored what it holds. A
crash anywhere leaves the file for the next fetch, and the items in it are
recognised again by ``(channel, external_id)``.

Layout under the spool directory: ``tmp/`` (being written), ``new/``
(waiting for the pipeline), ``rejected/`` (signed but unreadable bodies,
kept for staff). A body's file name is its SHA-256, so a body delivered
twice (the sender retried) is stored once.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

_DIRS = ("tmp", "new", "rejected")


@dataclass(frozen=True, slots=True)
class SpooledBody:
    """One stored body, as the channel reads it back."""

    path: Path
    data: bytes
    received_at: float  # seconds since the epoch, when it was stored

    @property
    def key(self) -> str:
        """The body's SHA-256 (its file name without the time prefix)."""
        return self.path.name.partition("-")[2] or self.path.name


class PushSpool:
    """The spool directory of one channel."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"PushSpool({str(self.directory)!r})"

    def _ensure(self) -> None:
        for sub in _DIRS:
            (self.directory / sub).mkdir(parents=True, exist_ok=True)

    def store(self, body: bytes, *, rejected: bool = False) -> tuple[Path, bool]:
        """Write ``body`` durably; returns its path and whether it was new.

        The file is fsynced and renamed into place, then the directory is
        fsynced, so a 200 sent after this survives a power cut.
        """
        self._ensure()
        digest = hashlib.sha256(body).hexdigest()
        target_dir = self.directory / ("rejected" if rejected else "new")
        existing = self._find(target_dir, digest)
        if existing is not None:
            return existing, False
        # the time prefix keeps arrival order when the channel lists new/
        name = f"{time.time_ns():020d}-{digest}"
        tmp = self.directory / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        target = target_dir / name
        os.replace(tmp, target)
        _fsync_dir(target_dir)
        return target, True

    @staticmethod
    def _find(directory: Path, digest: str) -> Path | None:
        matches = sorted(directory.glob(f"*-{digest}"))
        return matches[0] if matches else None

    def pending(self, limit: int) -> list[SpooledBody]:
        """Up to ``limit`` stored bodies, oldest first."""
        new = self.directory / "new"
        if not new.is_dir():
            return []
        bodies: list[SpooledBody] = []
        for path in sorted(new.iterdir())[:limit]:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # another process took it
            stamp = path.name.partition("-")[0]
            received = int(stamp) / 1e9 if stamp.isdigit() else path.stat().st_mtime
            bodies.append(SpooledBody(path=path, data=data, received_at=received))
        return bodies

    def count(self) -> int:
        """How many bodies wait (for ``dengar status`` and tests)."""
        new = self.directory / "new"
        return sum(1 for _ in new.iterdir()) if new.is_dir() else 0

    def done(self, body: SpooledBody) -> None:
        """Remove a body whose items are committed."""
        body.path.unlink(missing_ok=True)


def spool_for(directory: Path, channel: str, base_dir: Path | None = None) -> PushSpool:
    """The spool of channel ``channel`` under its configured ``directory``
    (a relative one from ``base_dir``, else the working directory, as both
    the channel and the web app see it)."""
    if not directory.is_absolute():
        directory = (base_dir or Path.cwd()) / directory
    return PushSpool(directory / channel)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
