"""Messages without complaint content (see :mod:`normalizer.content`):
whether their sender was already told how to write a complaint."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from contracts.records import InboundMessage
from normalizer.content import CONTENT_LESS_REASON
from normalizer.normalize import Normalized
from storage.tables import ComplaintRow


def answered_recently(
    session: Session, item: InboundMessage, fields: Normalized, minutes: float
) -> bool:
    """True when the sender of ``item`` sent a message without complaint
    content on its channel within ``minutes`` before it: that one was
    answered with how to complain, and once is enough."""
    reporter = fields.reporter
    if reporter.chat_id:
        same = col(ComplaintRow.reporter_chat_id) == reporter.chat_id
    elif reporter.email:
        same = col(ComplaintRow.reporter_email) == reporter.email
    else:
        return False
    since = item.received_at - timedelta(minutes=minutes)
    earlier = session.exec(
        select(ComplaintRow.id)
        .where(
            ComplaintRow.channel == item.channel,
            same,
            ComplaintRow.kind == "ignored",
            ComplaintRow.ignored_reason == CONTENT_LESS_REASON,
            col(ComplaintRow.received_at) >= since,
            col(ComplaintRow.received_at) <= item.received_at,
        )
        .limit(1)
    ).first()
    return earlier is not None
