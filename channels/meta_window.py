"""Meta's customer-service window: a business may answer a person freely
for 24 hours after that person's last message (WhatsApp, Messenger,
Instagram). Outside it, WhatsApp wants a template and Messenger/Instagram
a message tag.

The window is known from the messages the channel reads and from the time
of the citizen's message that each reply carries (``citizen_wrote_at``,
stored with the reply, so a restart does not forget it); for a person it
knows nothing of, the channel tries a plain answer first and Meta's refusal
closes the window.
"""

from __future__ import annotations

import time

WINDOW_SECONDS = 24 * 3600


class ReplyWindow:
    """When each person last wrote, by the id we answer them at."""

    def __init__(self, seconds: float = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def saw(self, who: str, at: float) -> None:
        """``who`` wrote at ``at`` (seconds since the epoch)."""
        self._last[who] = max(at, self._last.get(who, 0.0))

    def close(self, who: str) -> None:
        """Meta said the window is closed (it knows better than we do)."""
        self._last.pop(who, None)

    def knows(self, who: str) -> bool:
        """Whether ``who`` wrote since this process started."""
        return who in self._last

    def is_open(
        self, who: str, now: float | None = None, wrote_at: float | None = None
    ) -> bool:
        """Whether a free-form answer to ``who`` is allowed now, from what
        this process saw and, when given, the time of the message the reply
        answers (stored with the reply, so it survives a restart)."""
        seen = [t for t in (self._last.get(who), wrote_at) if t is not None]
        current = time.time() if now is None else now
        return bool(seen) and current - max(seen) < self.seconds
