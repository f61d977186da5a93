"""Why an item is kept as an ignored record instead of a case or follow-up.

The reason is a typed value here; its text is what ``ignored_reason``
stores (the dashboard and ``dengar case`` show it, and the thread rules
read a stored ``/baru`` back), written and recognised in this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.records import InboundMessage
from normalizer.content import CONTENT_LESS_REASON
from normalizer.normalize import Normalized

IgnoreKind = Literal["command", "unsupported", "automatic", "content_less"]

# the chat command with which a citizen starts a new case (no follow-up)
NEW_CASE_COMMAND = "baru"
# hints kept without an answer: an emoji on one of our messages (a
# WhatsApp reaction) or WhatsApp's notice that a citizen changed number is
# no message to apologise for
SILENT_HINTS = frozenset({"reaction", "system"})


@dataclass(frozen=True, slots=True)
class IgnoreReason:
    """Why an item opens no case.

    ``command``: a chat command (``detail``: its name, answered by the chat
    commands); ``unsupported``: a message type the channel cannot take in
    (``detail``: the channel's hint, answered with the hint template);
    ``automatic``: mail no person wrote (``detail``: the normaliser's
    finding: an auto-reply, a bounce, our own mail); ``content_less``: a
    greeting, thanks or a test (answered with how to write a complaint).
    """

    kind: IgnoreKind
    detail: str = ""

    @property
    def silent(self) -> bool:
        """An unsupported message not worth an answer (see SILENT_HINTS)."""
        return self.kind == "unsupported" and self.detail in SILENT_HINTS

    @property
    def stored(self) -> str:
        """The text kept in the record's ``ignored_reason``."""
        if self.kind == "command":
            return f"command /{self.detail}"
        if self.kind == "unsupported":
            return f"unsupported message: {self.detail}"
        if self.kind == "content_less":
            return CONTENT_LESS_REASON
        return self.detail


CONTENT_LESS = IgnoreReason("content_less")


def why_ignored(item: InboundMessage, fields: Normalized) -> IgnoreReason | None:
    """Why ``item`` is no complaint whatever it says, or None: a command
    first, then a message type the channel cannot take in, then mail no
    person wrote. (A message without complaint content is found later, once
    it is known to continue no case: see :func:`normalizer.content.says_nothing`.)
    """
    if item.command:
        return IgnoreReason("command", item.command)
    if item.hint:
        return IgnoreReason("unsupported", item.hint)
    if fields.ignored_reason:
        return IgnoreReason("automatic", fields.ignored_reason)
    return None


def asked_for_new_case(kind: str, ignored_reason: str | None) -> bool:
    """Whether a stored record is the citizen's ``/baru``: the next message
    of the chat opens a new case instead of continuing the last one."""
    return (
        kind == "ignored"
        and ignored_reason == IgnoreReason("command", NEW_CASE_COMMAND).stored
    )
