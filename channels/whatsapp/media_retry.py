"""Media files whose download failed for now (Meta's media service or the
network down), retried on their own so that the message they came with is
stored and answered at once instead of waiting for them.

Each waits as one JSON file under ``<channel spool>/media-retry/``, named by
its media id, so reading the same webhook body again writes the same file.
A retry that succeeds brings the file as an item that answers the message
it came with (``in_reply_to`` its wamid), so it joins that case; one given
up after ``MAX_ATTEMPTS`` comes as such an item too, listing the file as not
downloaded, so the case's history and the citizen hear of it. Meta keeps a
media id for 30 days; the attempts end well before.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

# seconds before each retry, the last repeated: 1 min, 5 min, 15 min, hourly
RETRY_DELAYS = (60.0, 300.0, 900.0, 3600.0)
MAX_ATTEMPTS = 12


@dataclass(frozen=True, slots=True)
class PendingMedia:
    """A file still to download and who sent it with which message."""

    media_id: str
    kind: str
    content_type: str
    filename: str
    sha256: str | None
    wamid: str
    received_at: float  # the message's time (seconds since the epoch)
    chat_id: str
    phone: str | None = None
    name: str | None = None
    attempts: int = 1  # the download with the message was the first
    next_at: float = 0.0
    error: str = ""  # why the last attempt failed (no secrets: Meta's text)

    @property
    def last_attempt(self) -> bool:
        """After this attempt it is given up."""
        return self.attempts + 1 >= MAX_ATTEMPTS


class MediaRetries:
    """The waiting files of one channel."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"MediaRetries({str(self.directory)!r})"

    def add(self, pending: PendingMedia, now: float) -> None:
        """Keep ``pending`` for its first retry; a file already waiting
        (the body was read again) keeps its count."""
        path = self._path(pending.media_id)
        if path.exists():
            return
        self._write(replace(pending, next_at=now + RETRY_DELAYS[0]))

    def due(self, now: float, limit: int) -> list[PendingMedia]:
        """Up to ``limit`` files whose retry time has come, oldest first."""
        if not self.directory.is_dir():
            return []
        found: list[PendingMedia] = []
        for path in self.directory.glob("*.json"):
            try:
                pending = PendingMedia(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue  # half-written by a crash: written again with its body
            if pending.next_at <= now:
                found.append(pending)
        found.sort(key=lambda p: p.next_at)
        return found[:limit]

    def failed(self, pending: PendingMedia, error: str, now: float) -> None:
        """Count a failed retry and set the next."""
        delay = RETRY_DELAYS[min(pending.attempts, len(RETRY_DELAYS) - 1)]
        self._write(
            replace(
                pending,
                attempts=pending.attempts + 1,
                next_at=now + delay,
                error=error,
            )
        )

    def done(self, media_id: str) -> None:
        """The file came (or was given up) and is stored with its case."""
        self._path(media_id).unlink(missing_ok=True)

    def count(self) -> int:
        """How many files wait."""
        if not self.directory.is_dir():
            return 0
        return sum(1 for _ in self.directory.glob("*.json"))

    def _path(self, media_id: str) -> Path:
        # media ids are digits; anything else cannot leave the directory
        safe = "".join(c for c in media_id if c.isalnum() or c in "-_")
        return self.directory / f"{safe}.json"

    def _write(self, pending: PendingMedia) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(pending.media_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(pending)))
        os.replace(tmp, path)
