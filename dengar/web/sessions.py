"""Server-side dashboard sessions.

The signed cookie carries a random token and the CSRF token, nothing that
grants access by itself: a session is valid while its row in
``web_session`` exists and has not expired. So logging out, a new password
and a disabled account end sessions on the server, at once, whatever copies
of the cookie exist.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.tables import WebSession, WebUser, utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user: WebUser, hours: float, now: datetime | None = None
) -> str:
    """Store a new session for ``user`` valid for ``hours`` and return its
    token for the cookie. Expired sessions are swept on the way. The caller
    commits."""
    now = now or utcnow()
    assert user.id is not None
    session.connection().execute(
        delete(WebSession).where(col(WebSession.expires_at) < now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token


def session_user(
    session: Session, token: object, now: datetime | None = None
) -> WebUser | None:
    """The active account whose unexpired session ``token`` is, else None."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    row = session.get(WebSession, _digest(token))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    user = session.get(WebUser, row.user_id)
    return user if user is not None and user.active else None


def end_session(session: Session, token: object) -> None:
    """End the session ``token`` (logout). The caller commits."""
    if isinstance(token, str) and token:
        session.connection().execute(
            delete(WebSession).where(col(WebSession.id) == _digest(token))
        )


def end_sessions(session: Session, user_id: int | None) -> int:
    """End every session of the account (new password, disabled); returns
    how many were open. The caller commits."""
    if user_id is None:
        return 0
    rows = session.exec(select(WebSession).where(WebSession.user_id == user_id)).all()
    for row in rows:
        session.delete(row)
    return len(rows)
