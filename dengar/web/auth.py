"""Accounts, API keys and login throttling for the web application.

Passwords are hashed with argon2id (argon2-cffi). Agency API keys are long
random tokens, so a SHA-256 of the key is enough to store (a KDF protects
guessable secrets; these are not guessable) and lets a request find its key
in one indexed look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from dengar import audit
from dengar.web.sessions import end_sessions
from storage.tables import AgencyApiKey, LoginAttempt, WebUser, utcnow

ROLES = ("admin", "staff", "agency")
ROLE_LABELS = {"admin": "admin", "staff": "staf", "agency": "instansi"}
API_KEY_PREFIX = "dgk_"

_hasher = PasswordHasher()
# verified against when the account does not exist, so a wrong name takes as
# long as a wrong password and does not reveal which accounts exist
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """An account or key cannot be changed as asked; the message says why
    (in English for the CLI, ``pesan`` in Indonesian for the dashboard)."""

    def __init__(self, message: str, pesan: str) -> None:
        super().__init__(message)
        self.pesan = pesan


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a dashboard user or an agency API key."""

    name: str
    role: str  # admin | staff | agency
    agency_code: str | None = None
    user_id: int | None = None

    @property
    def actor(self) -> str:
        """How status events and notes name this principal."""
        if self.user_id is None:
            return f"api:{self.agency_code}"
        return f"web:{self.name}"

    @property
    def is_admin(self) -> bool:
        """Admins see everything, reporters of ``anonim`` cases included."""
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        """Diskominfo staff or admin: may work every (non-``rahasia``) case."""
        return self.role in ("admin", "staff")


def hash_password(password: str) -> str:
    """The argon2id hash to store for ``password``."""
    return _hasher.hash(password)


def add_user(
    session: Session,
    name: str,
    password: str,
    role: str,
    agency_code: str | None = None,
    known_agencies: frozenset[str] | None = None,
) -> WebUser:
    """Create (or, for an existing name, replace the password and role of) a
    dashboard account. The caller commits."""
    name = name.strip()
    if not name or len(name) > 64:
        raise AccountError(
            "a user name needs 1 to 64 characters",
            "Nama pengguna harus terdiri dari 1 sampai 64 karakter.",
        )
    if role not in ROLES:
        raise AccountError(
            f"unknown role {role!r} (known: {', '.join(ROLES)})",
            "Peran tidak dikenal.",
        )
    if role == "agency":
        if not agency_code:
            raise AccountError(
                "an agency account needs --agency CODE",
                "Akun instansi harus memilih instansinya.",
            )
        agency_code = agency_code.upper()
        if known_agencies is not None and agency_code not in known_agencies:
            known = ", ".join(sorted(known_agencies))
            raise AccountError(
                f"unknown agency {agency_code!r} (known: {known})",
                f"Instansi {agency_code} tidak dikenal.",
            )
    elif agency_code:
        raise AccountError(
            "only an agency account has an agency",
            "Hanya akun instansi yang memiliki instansi.",
        )
    _check_password(password)
    user = session.exec(select(WebUser).where(WebUser.name == name)).first()
    if user is None:
        user = WebUser(name=name, role=role, password_hash="")
    else:  # a new password or role: sessions under the old ones end
        end_sessions(session, user.id)
    user.role = role
    user.agency_code = agency_code
    user.password_hash = hash_password(password)
    user.active = True
    session.add(user)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise AccountError(
            "the password needs at least 10 characters",
            "Kata sandi minimal 10 karakter.",
        )


def find_user(session: Session, name: str) -> WebUser:
    """The account ``name``, or :class:`AccountError`."""
    user = session.exec(select(WebUser).where(WebUser.name == name.strip())).first()
    if user is None:
        raise AccountError(
            f"no user {name.strip()!r}",
            f"Akun {name.strip()} tidak ditemukan.",
        )
    return user


def list_users(session: Session) -> list[WebUser]:
    """Every account, by name."""
    return list(session.exec(select(WebUser).order_by(col(WebUser.name))).all())


def set_password(session: Session, name: str, password: str) -> WebUser:
    """Give ``name`` a new password and end its sessions. The caller commits."""
    _check_password(password)
    user = find_user(session, name)
    user.password_hash = hash_password(password)
    end_sessions(session, user.id)
    session.add(user)
    return user


def set_active(session: Session, name: str, active: bool) -> WebUser:
    """Enable or disable ``name``; disabling ends its sessions at once. The
    caller commits."""
    user = find_user(session, name)
    user.active = active
    if not active:
        end_sessions(session, user.id)
    session.add(user)
    return user


def authenticate(session: Session, name: str, password: str) -> WebUser | None:
    """The active account ``name`` if ``password`` is right, else None."""
    user = session.exec(select(WebUser).where(WebUser.name == name.strip())).first()
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    return user


def describe(user: WebUser) -> str:
    """An account's role in Indonesian, for the audit log."""
    text = f"peran {ROLE_LABELS.get(user.role, user.role)}"
    return text + (f", instansi {user.agency_code}" if user.agency_code else "")


def audit_account_change(
    session: Session,
    actor: str,
    action: str,
    account: WebUser,
    address: str | None = None,
) -> None:
    """Stage the audit entry of an account change (dashboard or CLI): its
    name, and for a created or changed account the role it now has."""
    detail = describe(account) if action == "user_add" else None
    audit.record(session, actor, action, account.name, detail, address)


def principal_of(user: WebUser) -> Principal:
    """The principal a logged-in account acts as."""
    return Principal(
        name=user.name, role=user.role, agency_code=user.agency_code, user_id=user.id
    )


# --- login throttling --------------------------------------------------------

# an address the account logged in from this recently is the owner's, and is
# not slowed down by failures from elsewhere
KNOWN_ADDRESS_DAYS = 30


def login_wait(
    session: Session,
    name: str,
    address: str,
    max_failures: int,
    window_seconds: float,
    cap_seconds: float,
    now: datetime | None = None,
) -> float:
    """Seconds before ``address`` may try to log in as ``name`` (0: now).

    Never a lock someone else can set for everybody: ``max_failures`` within
    the window stop only the same (address, account) pair until they leave
    the window; past that many failures of the account from all addresses,
    each further try from an address the account never logged in from waits
    1, 2, 4, ... seconds after the last failure, at most ``cap_seconds``.
    Counted in the database, so every worker agrees.
    """
    now = now or utcnow()
    name = name.strip()[:64]
    address = address[:64]
    since = now - timedelta(seconds=window_seconds)
    failed = (
        LoginAttempt.name == name,
        col(LoginAttempt.ok).is_(False),
        col(LoginAttempt.created_at) >= since,
    )
    # the failure whose leaving the window brings the pair under the limit
    pair = session.exec(
        select(LoginAttempt.created_at)
        .where(*failed, LoginAttempt.address == address)
        .order_by(col(LoginAttempt.created_at).desc())
        .offset(max_failures - 1)
        .limit(1)
    ).first()
    if pair is not None:
        return max((pair + timedelta(seconds=window_seconds) - now).total_seconds(), 1)
    count, last = session.exec(
        select(func.count(), func.max(LoginAttempt.created_at)).where(*failed)
    ).one()
    if count < max_failures or last is None:
        return 0.0
    if _known_address(session, name, address, now):
        return 0.0
    delay = min(2.0 ** min(count - max_failures, 30), cap_seconds)
    return max((last + timedelta(seconds=delay) - now).total_seconds(), 0.0)


def _known_address(session: Session, name: str, address: str, now: datetime) -> bool:
    return (
        session.exec(
            select(LoginAttempt.id).where(
                LoginAttempt.name == name,
                LoginAttempt.address == address,
                col(LoginAttempt.ok).is_(True),
                col(LoginAttempt.created_at)
                >= now - timedelta(days=KNOWN_ADDRESS_DAYS),
            )
        ).first()
        is not None
    )


def record_login(
    session: Session, name: str, address: str, ok: bool, now: datetime | None = None
) -> None:
    """Remember one attempt, and forget those too old to matter (anyone can
    add rows here, so they must not pile up). The caller commits."""
    now = now or utcnow()
    session.connection().execute(
        delete(LoginAttempt).where(
            col(LoginAttempt.created_at) < now - timedelta(days=KNOWN_ADDRESS_DAYS)
        )
    )
    session.add(
        LoginAttempt(
            name=name.strip()[:64], address=address[:64], ok=ok, created_at=now
        )
    )


# --- agency API keys ---------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def rotate_api_key(session: Session, agency_code: str) -> str:
    """Create or replace ``agency_code``'s API key and return it; only its hash
    is stored, so this is the one time it can be shown. The caller commits."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = session.get(AgencyApiKey, agency_code)
    if row is None:
        row = AgencyApiKey(agency_code=agency_code, key_hash="", hint="")
    row.key_hash = _digest(key)
    row.hint = key[: len(API_KEY_PREFIX) + 4]
    row.created_at = utcnow()
    row.last_used_at = None
    session.add(row)
    session.flush()
    return key


def revoke_api_key(session: Session, agency_code: str) -> bool:
    """Delete ``agency_code``'s API key so it stops working at once; False
    when it had none. The caller commits."""
    row = session.get(AgencyApiKey, agency_code)
    if row is None:
        return False
    session.delete(row)
    return True


def api_keys(session: Session) -> dict[str, AgencyApiKey]:
    """The agencies' keys (hint and dates only), by agency code."""
    return {k.agency_code: k for k in session.exec(select(AgencyApiKey)).all()}


def agency_for_key(session: Session, key: str | None) -> str | None:
    """The agency code the key belongs to, or None for a missing/unknown key."""
    if not key or not key.startswith(API_KEY_PREFIX) or len(key) > 128:
        return None
    digest = _digest(key)
    row = session.exec(
        select(AgencyApiKey).where(AgencyApiKey.key_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return row.agency_code


# --- CSRF -----------------------------------------------------------------------


def new_csrf_token() -> str:
    """A fresh per-session token for forms."""
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """True when the form's token is the session's."""
    return bool(expected and given and hmac.compare_digest(expected, given))
