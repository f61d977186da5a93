"""A channel's health row (``channel_state``) as the runner keeps it:
failures with their back-off, a channel stopped by a fatal error and the
fingerprint of the settings that stopped it (see ``dengar.fingerprint``)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from contracts.backoff import backoff_seconds
from dengar.app import App
from dengar.fingerprint import settings_fingerprint
from storage.tables import ChannelState, utcnow

log = logging.getLogger("dengar.runner")  # where operators look for these lines

BACKOFF_BASE = 5.0
BACKOFF_MAX = 900.0


class ChannelStates:
    """Read and record the ``channel_state`` rows of one app's channels."""

    def __init__(self, app: App) -> None:
        self.app = app

    def get(self, name: str) -> ChannelState:
        """The channel's row (a fresh one when it never ran)."""
        with self.app.sessions() as session:
            return session.get(ChannelState, name) or ChannelState(name=name)

    def stopped_by_same_settings(self, state: ChannelState) -> bool:
        """True when the channel was stopped and its settings did not change
        since: the same refusal would follow (a locked mailbox, say)."""
        stored = state.disabled_config
        return stored == self.fingerprint(state.name, stored)

    def disable(self, name: str, reason: str) -> None:
        """Stop the channel until its settings change."""
        log.error("channel %s disabled: %s", name, reason)
        self._record(name, reason, disabled=True, retry_after=None)

    def enable(self, name: str) -> None:
        """Let a stopped channel run again."""
        with self.app.sessions() as session:
            state = session.get(ChannelState, name)
            if state is not None:
                state.disabled_reason = state.disabled_config = None
                session.add(state)
                session.commit()

    def failed(self, name: str, reason: str, retry_after: float | None) -> None:
        """Record a failure; the next poll waits ``retry_after`` or a back-off."""
        self._record(name, reason, disabled=False, retry_after=retry_after)

    def fingerprint(self, name: str, stored: str | None = None) -> str:
        """The salted fingerprint of the channel's settings (with the salt of
        ``stored`` when given, to compare with it)."""
        # salted, because the settings hashed include the channel's secrets
        salt = (stored or "").partition("$")[0] or secrets.token_hex(8)
        return settings_fingerprint(self.app.settings.channel(name), salt)

    def _record(
        self, name: str, reason: str, *, disabled: bool, retry_after: float | None
    ) -> None:
        with self.app.sessions() as session:
            state = session.get(ChannelState, name) or ChannelState(name=name)
            now = utcnow()
            state.last_poll_at = now
            state.last_error = reason
            state.last_error_at = now
            state.consecutive_failures += 1
            if disabled:
                state.disabled_reason = reason
                state.disabled_config = self.fingerprint(name)
            else:
                delay = (
                    retry_after
                    if retry_after is not None
                    else backoff(state.consecutive_failures)
                )
                state.next_poll_at = now + timedelta(seconds=delay)
                log.warning(
                    "channel %s failed (%s); next try in %.0f s", name, reason, delay
                )
            session.add(state)
            session.commit()


def backoff(failures: int) -> float:
    """Seconds before a failing channel's next try."""
    return backoff_seconds(failures, BACKOFF_BASE, BACKOFF_MAX)
