"""A per-address request limit kept in memory (one process).

Used for the public pages, where nobody logs in: a fixed number of requests
per address in a sliding window. Each address keeps at most ``limit``
timestamps, and addresses idle for a whole window are dropped, so memory
stays bounded by the addresses seen in one window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per key in ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def allow(self, key: str) -> bool:
        """Count a hit for ``key``; False when it is over the limit (a refused
        hit is not counted, so waiting one window always helps)."""
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _sweep(self, now: float) -> None:
        stale = [
            k for k, h in self._hits.items() if not h or h[-1] <= now - self.window
        ]
        for key in stale:
            del self._hits[key]
        self._next_sweep = now + self.window
