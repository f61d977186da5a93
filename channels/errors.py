"""What can go wrong in a channel, by what the runner should do about it.

- ``FatalChannelError``: wrong credentials, a revoked token, a missing
  mailbox. Retrying will not help; the runner disables the channel and shows
  the reason in ``dengar status`` until the config is fixed.
- ``RetriableChannelError``: the server is down, the network dropped, a rate
  limit. The runner backs off (exponential, capped, jittered) and tries again;
  ``retry_after`` (seconds) overrides the backoff when the source says when.

An item the channel cannot hand over (too large, unreadable) is not an error:
it goes into ``FetchResult.rejected`` and is quarantined.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every channel error. Messages never contain secrets."""


class FatalChannelError(ChannelError):
    """The channel cannot work until its configuration changes."""


class RetriableChannelError(ChannelError):
    """A passing failure; try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
