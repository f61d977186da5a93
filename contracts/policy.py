"""How the pipeline treats the items of one channel, read once from the
channel's settings at start-up (``config.channel_settings``: ``policy()`` on
each channel model, where the defaults live)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """What the pipeline, the replies and the chat commands need to know of a
    channel; a channel type without a feature has it off (0, None, empty)."""

    # the channel's type in the settings (imap, maildir, telegram, …)
    kind: str
    # a chat message within this many minutes of the citizen's last one
    # continues that case; 0: no session (mail threads by its headers)
    session_minutes: float
    # seconds a new case waits for the citizen's choice of confidentiality
    # before its agency gets it; 0: sent at once
    confirmation_window: float
    # new cases wait for staff (triage) instead of going to their agency …
    triage: bool
    # … unless the rules classify them as a complaint with at least this
    # score (auto-dispatch); None: every new case of the channel waits
    auto_dispatch_min_score: float | None
    # the channel's overrides of the reply templates
    messages: Mapping[str, str]
    # replies to one address per hour at most; None: no limit
    acks_per_address_per_hour: int | None
    # the domain of our own Message-IDs (mail loop protection); None: none
    message_id_domain: str | None
    # addresses that forward citizens' mail (their Reply-To is the reporter)
    forwarders: tuple[str, ...]
    # only private chats are read (group messages are skipped)
    private_chats_only: bool
    # a reporter known only by a phone number is answered at that number
    # (the web form, through a WhatsApp channel); off: such a reporter
    # cannot be told anything
    replies_to_phone: bool

    @property
    def is_email(self) -> bool:
        """Whether replies on this channel are letters (IMAP with SMTP)."""
        return self.kind == "imap"

    @property
    def loop_id(self) -> str | None:
        """The sender id our own mail carries on this channel, if any."""
        if not self.message_id_domain:
            return None
        return f"dengar@{self.message_id_domain}".lower()
