"""What the scheduled jobs do while the database is unreachable.

Every job reads or writes the database, so when PostgreSQL restarts or
another process holds SQLite's write lock, every job fails at once, several
times a second. Logging each failure would bury the one line an operator
needs under thousands of tracebacks, and retrying at full speed would hammer
a server that is trying to come back. So the first failure is logged once,
clearly; the jobs then pause with a capped backoff, and the recovery is
logged with how long the outage lasted. Nothing is lost meanwhile: items stay
at their source (Maildir, IMAP, the Bot API, X) until a batch commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.5  # seconds
MAX_PAUSE = 15.0


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean "the database is not there right now"
    (refused or dropped connections, a server shutting down, SQLite's lock
    held elsewhere) rather than a bug in what we asked of it."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class DatabaseHealth:
    """Shared by a runner's jobs: are we in an outage, and for how long?"""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self.down_since: float | None = None
        self.last_error = ""
        self._pause = 0.0
        self._resume_at = 0.0

    @property
    def paused(self) -> bool:
        """True while jobs should wait instead of trying the database."""
        return self.down_since is not None and self._now() < self._resume_at

    def failed(self, exc: BaseException) -> None:
        """Record a failed attempt; logs only the first of an outage."""
        now = self._now()
        self.last_error = _one_line(exc)
        if self.down_since is None:
            self.down_since = now
            self._pause = FIRST_PAUSE
            log.error(
                "database unavailable (%s): polling and delivery pause and "
                "retry with backoff up to %.0f s; nothing is lost, items stay "
                "at their source until stored",
                self.last_error,
                MAX_PAUSE,
            )
        else:
            self._pause = min(MAX_PAUSE, self._pause * 2)
            log.debug("database still unavailable (%s)", self.last_error)
        self._resume_at = now + self._pause

    def succeeded(self) -> None:
        """Record a job that reached the database; logs the recovery."""
        if self.down_since is None:
            return
        lasted = self._now() - self.down_since
        self.down_since = None
        self._pause = 0.0
        log.warning("database available again after %.1f s", lasted)


def _one_line(exc: BaseException) -> str:
    # SQLAlchemy appends SQL and a background link on further lines; the
    # first line of the driver's message is what tells the operator why
    return short_error(getattr(exc, "orig", None) or exc)


def short_error(exc: BaseException, limit: int = 300) -> str:
    """One line about an unexpected error, for status and summaries."""
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QuietSkips(logging.Filter):
    """Drops APScheduler's "maximum number of running instances reached":
    with ``max_instances=1`` and ``coalesce`` a job still running at its next
    tick is the design (a long batch, or an outage), not news for the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()
