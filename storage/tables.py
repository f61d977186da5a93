"""Dengar's tables (SQLModel). Schema changes go through Alembic
(``storage/migrations``); ``tests/unit/storage`` checks the two agree."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class RawPayload(SQLModel, table=True):
    """The bytes exactly as fetched, kept for replay."""

    __tablename__ = "raw_payload"

    id: int | None = Field(default=None, primary_key=True)
    format: str = Field(max_length=16)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ComplaintRow(SQLModel, table=True):
    """One inbound item that was kept: a case, a follow-up or an ignored item."""

    __tablename__ = "complaint"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_complaint_source"),
        Index("ix_complaint_open_cases", "kind", "status", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    tracking_no: str | None = Field(default=None, max_length=32, unique=True)
    channel: str = Field(max_length=64)
    external_id: str = Field(max_length=512)
    message_id: str | None = Field(default=None, max_length=998, index=True)
    received_at: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    reporter_name: str | None = Field(default=None, max_length=256)
    reporter_email: str | None = Field(default=None, max_length=320, index=True)
    reporter_phone: str | None = Field(default=None, max_length=32, index=True)
    reporter_handle: str | None = Field(default=None, max_length=128)
    reporter_chat_id: str | None = Field(default=None, max_length=64, index=True)
    subject: str | None = Field(default=None, sa_column=Column(Text))
    original_text: str = Field(sa_column=Column(Text, nullable=False))
    clean_text: str = Field(sa_column=Column(Text, nullable=False))
    location_lat: float | None = None
    location_lon: float | None = None
    location_label: str | None = Field(default=None, max_length=256)
    category: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=128)
    confidentiality: str = Field(default="biasa", max_length=16)
    status: str = Field(default="received", max_length=16)
    agency_code: str | None = Field(default=None, max_length=32, index=True)
    routing_reason: str | None = Field(default=None, max_length=512)
    # how the routing decided, as JSON: rule, model (version, confidence) or
    # default, and the model's suggestions with the words behind them
    routing_detail: str | None = Field(default=None, sa_column=Column(Text))
    ignored_reason: str | None = Field(default=None, max_length=512)
    follow_up_of_id: int | None = Field(
        default=None, foreign_key="complaint.id", index=True
    )
    duplicate_of_id: int | None = Field(
        default=None, foreign_key="complaint.id", index=True
    )
    duplicate_score: float | None = None
    duplicate_reason: str | None = Field(default=None, max_length=512)
    # the text duplicate linking compares, kept so the index rebuilds at
    # start without normalising every open case again
    dedupe_key: str | None = Field(default=None, sa_column=Column(Text))
    raw_id: int | None = Field(default=None, foreign_key="raw_payload.id")
    # channel extras as JSON (Telegram media_group_id, X conversation_id, ...)
    extra: str | None = Field(default=None, sa_column=Column(Text))
    raw_format: str = Field(max_length=16)


class AttachmentRow(SQLModel, table=True):
    """A file of a complaint; the bytes in ``data`` or at ``path``."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    filename: str = Field(max_length=512)
    content_type: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64, index=True)
    inline: bool = False
    stored: bool = True
    path: str | None = Field(default=None, max_length=1024)
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class StatusEvent(SQLModel, table=True):
    """A change of a case's status: who, when, why."""

    __tablename__ = "status_event"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    status: str = Field(max_length=16)
    note: str | None = Field(default=None, sa_column=Column(Text))
    # what the reporters were told with this change (never the internal
    # note): the public tracking page shows it
    message: str | None = Field(default=None, sa_column=Column(Text))
    actor: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class OutboxRow(SQLModel, table=True):
    """A delivery still to make: a case to an agency, or a reply to a citizen.

    ``idempotency_key`` is what the receiver sees twice if we crash after it
    accepted and before we recorded it.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # "agency" | "reply"
    target: str = Field(max_length=64)  # agency code or channel name
    recipient: str | None = Field(default=None, max_length=320, index=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    payload: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    max_attempts: int = 10
    # citizen replies: sends begun whose outcome was never recorded (the
    # worker died meanwhile), so the citizen may have the message already;
    # a reply is not sent again once two such sends are counted
    unconfirmed_sends: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # the id the remote gave what we sent (email Message-ID, "tg:<chat>:<id>"),
    # so that a citizen's reply to it threads into the case
    remote_id: str | None = Field(default=None, max_length=998, index=True)
    # what the remote later reported of it (WhatsApp: sent, delivered,
    # read, failed)
    remote_status: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # an agency delivery through the http sink: the id the agency's system
    # gave the case (its ticket number), then what asking it for the case's
    # status last found (the remote word, when, and why asking failed)
    agency_ticket: str | None = Field(default=None, max_length=256)
    agency_status: str | None = Field(default=None, max_length=256)
    agency_checked_at: datetime | None = Field(
        default=None, sa_column=_ts(nullable=True)
    )
    agency_status_error: str | None = Field(default=None, sa_column=Column(Text))


class AgencyQueueRow(SQLModel, table=True):
    """The ``database`` sink: an agency's queue kept inside Dengar."""

    __tablename__ = "agency_queue"

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(max_length=32, index=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    message: str = Field(sa_column=Column(Text, nullable=False))
    enqueued_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    acknowledged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ChannelState(SQLModel, table=True):
    """Per channel: the cursor and its health."""

    __tablename__ = "channel_state"

    name: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(default=None, sa_column=Column(Text))
    last_poll_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    consecutive_failures: int = 0
    next_poll_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    # salted hash of the channel's settings when it was disabled: a restart
    # with other settings (a new password or token) tries the channel again
    disabled_config: str | None = Field(default=None, max_length=128)


class QuarantineRow(SQLModel, table=True):
    """An item that could not become a record; kept with its reason."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_quarantine_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=64)
    external_id: str = Field(max_length=512)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    status: str = Field(default="held", max_length=16)  # held | released


class UnreachableRecipient(SQLModel, table=True):
    """A citizen we must stop writing to (blocked the bot, address bounces)."""

    __tablename__ = "unreachable_recipient"

    channel: str = Field(primary_key=True, max_length=64)
    recipient: str = Field(primary_key=True, max_length=320)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    since: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DuplicateUnlinkRow(SQLModel, table=True):
    """A duplicate link staff undid: the pair is never linked automatically
    again (``normalizer.dedupe.index``)."""

    __tablename__ = "duplicate_unlink"
    __table_args__ = (
        UniqueConstraint("complaint_id", "other_id", name="uq_duplicate_unlink"),
    )

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    other_id: int = Field(foreign_key="complaint.id", index=True)
    actor: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ChannelLease(SQLModel, table=True):
    """Which worker may poll a channel, until when (``dengar run --worker``).

    Rows named ``worker:<id>`` are the workers' own heartbeats, so a worker
    can tell how many are alive and take only its share of the channels.
    """

    __tablename__ = "channel_lease"

    name: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_column=_ts())
    acquired_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WebUser(SQLModel, table=True):
    """A dashboard account: ``admin``, ``staff`` or ``agency`` (then
    ``agency_code`` says whose cases it sees). Only the password's argon2 hash
    is kept."""

    __tablename__ = "web_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    agency_code: str | None = Field(default=None, max_length=32)
    password_hash: str = Field(max_length=256)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AgencyApiKey(SQLModel, table=True):
    """An agency's key for ``/api/v1``; only its SHA-256 is kept. One per
    agency: rotating replaces it."""

    __tablename__ = "agency_api_key"

    agency_code: str = Field(primary_key=True, max_length=32)
    key_hash: str = Field(max_length=64, unique=True)
    hint: str = Field(max_length=16)  # the first characters, to tell keys apart
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class StaffNote(SQLModel, table=True):
    """An internal note on a case (never sent to the citizen)."""

    __tablename__ = "staff_note"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    author: str = Field(max_length=128)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class LoginAttempt(SQLModel, table=True):
    """A dashboard login attempt, for rate limiting by account and address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_name_at", "name", "created_at"),
        Index("ix_login_attempt_created_at", "created_at"),  # for pruning
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    address: str = Field(max_length=64, index=True)
    ok: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RoutingModelRow(SQLModel, table=True):
    """A version of the routing model (``dengar routing learn``); the highest
    version is the one in use. ``data`` is an ``.npz`` of plain arrays, read
    without pickle (``dispatcher.routing_model``)."""

    __tablename__ = "routing_model"

    version: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=512)  # "file:<name>" or "history"
    examples: int
    agencies: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    # cross-validated quality at training time, JSON (may be empty)
    metrics: str | None = Field(default=None, sa_column=Column(Text))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WebSession(SQLModel, table=True):
    """A logged-in dashboard session. The cookie carries only a random token;
    the row (keyed by the token's SHA-256) is what makes it valid, so deleting
    it ends the session at once: logout, a new password, a disabled account."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="web_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))


class AuditEvent(SQLModel, table=True):
    """One staff action, for the audit log admins read: logins (failed ones
    too), logouts, case decisions, account and API key changes."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32, index=True)
    target: str | None = Field(default=None, max_length=128)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    address: str | None = Field(default=None, max_length=64)
