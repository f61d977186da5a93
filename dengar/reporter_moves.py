"""A chat sender whose id changed: their records follow them.

WhatsApp tells a business when a citizen moves to a new phone number (and
with it a new business-scoped user id) or gets a new user id: a ``system``
message naming the new id, whose item lists the old ones in
``previous_chat_ids``. Every record of the old ids on that channel then
carries the new one, so the citizen's next message continues their open
session, ``/status`` lists their earlier cases, and status updates of those
cases reach them where they are now.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.tables import ComplaintRow


def move_reporter(
    session: Session, channel: str, previous: tuple[str, ...], now: str
) -> int:
    """Give the records of ``previous`` chat ids on ``channel`` the chat id
    ``now``; returns how many moved."""
    rows = session.exec(
        select(ComplaintRow).where(
            ComplaintRow.channel == channel,
            col(ComplaintRow.reporter_chat_id).in_(previous),
        )
    ).all()
    for row in rows:
        # through the ORM rather than one UPDATE: rows this batch already
        # loaded must not keep the old id
        row.reporter_chat_id = now
        session.add(row)
    return len(rows)
