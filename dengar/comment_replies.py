"""The one answer to a social comment, chosen by staff in triage.

Meta allows a business one private message to the author of a comment,
within 7 days of it; the other way is a public reply under the comment,
which carries the tracking number only (the channel writes it, never the
case's text). A comment's record keeps ``comment_ref`` (``fb:<id>``,
``ig:<id>``, ``ig-mention:<media>/<comment>``) among its extras; the reply
goes to the channel as the address ``<mode>:<comment_ref>``. A photo the
Instagram account is only tagged in (``ig-tagged:<media>``, no @mention in
its caption) has no answer at all: Meta allows no comment on it, and a
private reply only to a comment on the account's own media.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

from sqlmodel import Session

from contracts.records import OutgoingReply
from dengar.triage import TriageError
from dispatcher.notify import render, tracking_url
from dispatcher.outbox import queue as outbox
from storage.tables import ComplaintRow, utcnow

MODES = ("private", "public")
PRIVATE_REPLY_DAYS = 7


def comment_ref(row: ComplaintRow) -> str | None:
    """The comment a case came from, or None for any other case."""
    try:
        extra = json.loads(row.extra or "{}")
    except ValueError:
        return None
    ref = extra.get("comment_ref") if isinstance(extra, dict) else None
    return ref if isinstance(ref, str) and ref else None


def reply_modes(row: ComplaintRow) -> tuple[str, ...]:
    """The answers staff may choose for ``row`` now (empty: not a comment)."""
    ref = comment_ref(row)
    if ref is None or only_tagged(row):
        return ()
    if ref.startswith("ig-mention:"):
        return ("public",)  # Meta offers no private reply to a mention
    received = row.received_at
    if received.tzinfo is None:
        received = received.replace(tzinfo=utcnow().tzinfo)
    if utcnow() - received > timedelta(days=PRIVATE_REPLY_DAYS):
        return ("public",)
    return MODES


def only_tagged(row: ComplaintRow) -> bool:
    """Whether ``row`` is a photo the Instagram account is only tagged in
    (found by the catch-up's ``/tags``): nothing can answer it there."""
    return (comment_ref(row) or "").startswith("ig-tagged:")


def refusal(
    tracking_no: str, mode: str, allowed: tuple[str, ...], *, tagged: bool = False
) -> str:
    """Why ``mode`` cannot answer the case (for the CLI; the dashboard says
    it in Indonesian through ``dengar.web.wording``); ``tagged``: the case
    is a photo the account is only tagged in."""
    why = (
        "the Instagram account is only tagged in that photo (Meta allows "
        "no comment there and no private reply)"
        if tagged
        else "it is not a Facebook or Instagram comment"
        if not allowed
        else f"only {', '.join(allowed)} is possible (a private reply is "
        f"allowed within {PRIVATE_REPLY_DAYS} days, and not to a mention)"
    )
    return f"cannot answer {tracking_no} with a {mode} reply: {why}"


def queue_comment_reply(
    session: Session,
    row: ComplaintRow,
    mode: str,
    messages: Mapping[str, str] | None = None,
    public_url: str | None = None,
) -> None:
    """Queue the chosen answer to the comment of ``row``; ``TriageError``
    when that answer is not possible for it."""
    allowed = reply_modes(row)
    if mode not in allowed:
        raise TriageError(
            refusal(
                row.tracking_no or str(row.id), mode, allowed, tagged=only_tagged(row)
            )
        )
    text = render(
        "comment_private_reply",
        messages,
        tracking_no=row.tracking_no,
        tracking_url=tracking_url(public_url, row.tracking_no),
    )
    outbox.enqueue_reply(
        session,
        row,
        OutgoingReply(
            channel=row.channel,
            recipient=f"{mode}:{comment_ref(row)}",
            text=str(text),
            in_reply_to=row.message_id,
            tracking_no=row.tracking_no,
            idempotency_key=f"{row.channel}:comment-reply:{row.tracking_no}",
        ),
    )
