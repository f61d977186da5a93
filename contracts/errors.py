"""What can go wrong, by what the caller should do about it: one tree for
channels, replies to citizens and deliveries to agencies.

- :class:`Fatal`: wrong credentials, a revoked token, a missing mailbox, a
  target that refuses the message for good. Retrying will not help: a channel
  is disabled with the reason shown in ``dengar status`` until its config is
  fixed; a delivery goes to ``dead`` with the answer kept.
- :class:`Retriable`: the server is down, the network dropped, a rate limit.
  The caller backs off (:func:`contracts.backoff.backoff_seconds`);
  ``retry_after`` (seconds) overrides the backoff when the remote says when.
- :class:`Skippable`: one item cannot be handed over (malformed, too large):
  it is quarantined with its raw bytes and the batch goes on.
- :class:`Unreachable`: the person cannot be reached (blocked the bot, the
  address bounces); retrying will not help, the others are still told.

The concrete errors below say where they happened; callers catch the kind.
Messages never contain secrets.
"""

from __future__ import annotations


class DengarError(Exception):
    """Base of every error Dengar classifies."""


class Fatal(DengarError):
    """Cannot work until a configuration or the remote side changes."""


class Retriable(DengarError):
    """A passing failure; try again later (after ``retry_after`` seconds
    when the remote said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Skippable(DengarError):
    """This one item cannot be processed; keep it raw and go on."""


class Unreachable(DengarError):
    """The recipient cannot be reached; retrying will not help."""


class NotReplayable(Skippable):
    """Stored raw bytes cannot be turned back into an item (a replay from
    the quarantine); the message says why."""


# -- channels (fetching) ---------------------------------------------------


class ChannelError(DengarError):
    """Base of the errors a channel raises while fetching or checking."""


class FatalChannelError(ChannelError, Fatal):
    """The channel cannot work until its configuration changes."""


class RetriableChannelError(ChannelError, Retriable):
    """A passing failure of the source; try again later."""


# -- replies to citizens -----------------------------------------------------


class ReplyError(DengarError):
    """Sending a reply failed."""


class RecipientUnreachable(ReplyError, Unreachable):
    """The citizen cannot be reached (blocked the bot, address bounces)."""


class ReplyRetriable(ReplyError, Retriable):
    """Sending failed for now."""


# -- deliveries to agencies --------------------------------------------------


class DeliveryError(DengarError):
    """Base of delivery failures."""


class RetriableDeliveryError(DeliveryError, Retriable):
    """The target is down, timed out, said 5xx/429 or did not confirm."""


class PermanentDeliveryError(DeliveryError, Fatal):
    """The target refused this message for good; ``detail`` keeps its answer."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail
