"""The records that flow through Dengar.

``InboundMessage`` is what every channel hands to the pipeline: the source's own
id, the raw payload for replay, and whatever the channel already knows
(reporter, text, attachments, location). ``Complaint`` is what the normalizer
makes of it; it is the documented record (see ``docs/schema/complaint.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

RawFormat = Literal["rfc822", "json", "text"]


class Confidentiality(StrEnum):
    """How far a case may travel: see DESIGN.md, *Confidentiality*."""

    BIASA = "biasa"  # ordinary: may be shown with the reporter's identity
    ANONIM = "anonim"  # content may be shown, the reporter's identity never leaves
    RAHASIA = "rahasia"  # nothing of it is public


class RecordKind(StrEnum):
    """What an inbound item became."""

    CASE = "case"
    FOLLOW_UP = "follow_up"
    IGNORED = "ignored"


class CaseStatus(StrEnum):
    """The life of a case, as the citizen and the agency see it."""

    TRIAGE = "triage"  # a social post waiting for staff to accept or dismiss it
    DISMISSED = "dismissed"  # staff decided a triage item is not a case
    RECEIVED = "received"
    VERIFIED = "verified"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REROUTED = "rerouted"


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who wrote, as far as the channel knows. Empty fields are unknown."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    handle: str | None = None
    chat_id: str | None = None

    def is_empty(self) -> bool:
        """True when the channel knows nothing about the sender."""
        return not any((self.name, self.email, self.phone, self.handle, self.chat_id))


@dataclass(frozen=True, slots=True)
class Location:
    """A point the citizen shared, or a place named by the channel."""

    latitude: float
    longitude: float
    label: str | None = None


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A file that came with a message, bytes included."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass(frozen=True, slots=True)
class MissingFile:
    """A file a message brought word of but the channel could not bring
    (too large, the download failed): noted on the case and told to the
    citizen. ``file_id`` is the source's id, kept so it can be fetched again."""

    kind: str  # photo, document, voice …
    filename: str | None
    size: int | None
    reason: str  # "too_large", or "unavailable: <why>"
    file_id: str
    service: str | None = None  # who holds the file (Telegram when None)
    limit: int | None = None  # the size limit it broke, when known

    @property
    def too_large(self) -> bool:
        """Whether the file was left because of its size."""
        return self.reason == "too_large"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One item fetched from a source, before normalisation.

    ``external_id`` is the source's own id and, with ``channel``, unique: a
    re-fetched item is recognised by it. ``raw`` is kept for replay. Email
    channels hand over ``raw_format="rfc822"`` and leave parsing to the
    normalizer; chat and social channels fill the fields they know.
    """

    channel: str
    external_id: str
    received_at: datetime
    raw: bytes
    raw_format: RawFormat
    text: str | None = None
    subject: str | None = None
    reporter: Reporter = field(default_factory=Reporter)
    attachments: tuple[InboundAttachment, ...] = ()
    location: Location | None = None
    # ids of the messages this one answers (email Message-IDs, chat message ids)
    in_reply_to: tuple[str, ...] = ()
    # the source's id for this message in reply headers (email Message-ID)
    message_id: str | None = None
    # what the channel knows beyond the record, kept as the record's extras
    # for display; nothing the pipeline decides on travels here
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # a chat command (``/status``, a button's ``anonim``) and its arguments:
    # answered, stored as ignored, never a case
    command: str | None = None
    command_args: str = ""
    # the id of the inline-button press that carried ``command``, which the
    # channel answers once the item is stored
    button_press_id: str | None = None
    # why a chat message cannot be a report (a sticker, a reaction, someone
    # else's contact): stored as ignored and answered with a hint
    hint: str | None = None
    # the citizen shared their own phone number (``reporter.phone``)
    contact_shared: bool = False
    # the sender's earlier ``reporter.chat_id``s on this channel, when the
    # source reports that their id changed (WhatsApp's notice of a new
    # number): the records of those ids are this reporter's from now on
    previous_chat_ids: tuple[str, ...] = ()
    # the source id (``external_id``) of the message this one edits
    edit_of: str | None = None
    # with ``edit_of``: the source removed or hid that message
    # (``deleted``, ``hide``, ``unhide``); its words stay in the case
    removed_at_source: str | None = None
    # the album this message belongs to (its photos make one case)
    media_group_id: str | None = None
    # files the channel could not bring, and its size limit for files
    missing_files: tuple[MissingFile, ...] = ()
    max_file_bytes: int | None = None
    # what a citizen settled on a web form before the pipeline ran: the
    # tracking number already shown, biasa/anonim/rahasia, a category (used
    # when the classifier finds none) and the open case they also experience
    tracking_no: str | None = None
    confidentiality: Confidentiality | None = None
    chosen_category: str | None = None
    supports: str | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        if not self.external_id:
            raise ValueError("external_id must not be empty")


def too_large_file(item: InboundMessage) -> MissingFile | None:
    """The first file of ``item`` left because of its size, if any."""
    return next((f for f in item.missing_files if f.too_large), None)


def file_limit(item: InboundMessage) -> int | None:
    """The size limit to name for ``item``'s missing files: the one the first
    too-large file broke, else the channel's."""
    first = too_large_file(item)
    if first is not None and first.limit is not None:
        return first.limit
    return item.max_file_bytes


Scalar = str | int | float | bool | None


def stored_extras(item: InboundMessage) -> dict[str, Scalar]:
    """What is stored with ``item``'s record as its extras (JSON the
    dashboard shows and ``find_thread`` searches for an album): the scalar
    metadata, and the typed fields under the keys they have always had."""
    extras: dict[str, Scalar] = {
        k: v
        for k, v in item.metadata.items()
        if isinstance(v, str | int | float | bool) or v is None
    }
    typed: dict[str, Scalar] = {
        "command": item.command,
        "command_args": item.command_args if item.command else None,
        "callback_query_id": item.button_press_id,
        "hint": item.hint,
        "contact_shared": item.contact_shared or None,
        "edit_of": item.edit_of,
        "removed_at_source": item.removed_at_source,
        "media_group_id": item.media_group_id,
    }
    if item.missing_files:
        typed["files_not_downloaded_ids"] = " ".join(
            f.file_id for f in item.missing_files
        )
        typed["max_file_bytes"] = file_limit(item)
    extras.update({k: v for k, v in typed.items() if v is not None})
    first = too_large_file(item)
    if first is not None:
        # kept as they were when these were metadata keys, unknown ones null
        extras["file_too_large"] = True
        extras["file_too_large_name"] = first.filename
        extras["file_too_large_bytes"] = first.size
    return extras


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item a channel could not hand over (too large, unreadable).

    It is quarantined with its raw bytes and the reason, never dropped.
    """

    channel: str
    external_id: str
    raw: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    """A message to a citizen, sent through the channel the case came from."""

    channel: str
    recipient: str  # chat id, email address or handle, as the channel uses it
    text: str
    subject: str | None = None
    in_reply_to: str | None = None  # the source message id this answers
    tracking_no: str | None = None
    idempotency_key: str = ""
    # answers the citizen can pick with one tap, as (label, command) pairs,
    # e.g. ("Anonim", "anonim ADU-7K3M-9Q2D"); a channel that has buttons
    # shows them (Telegram inline keyboard), the others rely on the text,
    # which names the same commands
    choices: tuple[tuple[str, str], ...] = ()
    # when the citizen last wrote on this channel, as known when the reply
    # was queued: a channel whose free-form replies need a recent message
    # (WhatsApp's 24 hours) reads it, so a restart does not forget it
    citizen_wrote_at: datetime | None = None
    # the remote reported the window closed when this reply arrived (its
    # delivery report asked for a resend): send the out-of-window form
    window_closed: bool = False
    # asks where the problem is; a channel with a location button sends it
    # with one (WhatsApp's location request), the others leave it out
    location_prompt: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What became of a reply we sent, as the remote reports it later
    (WhatsApp ``statuses[]``): ``remote_id`` is what ``send_reply``
    returned; ``state`` is sent, delivered, read or failed."""

    remote_id: str
    state: str
    at: datetime
    # the recipient's window closed before it arrived: send it again in a
    # form the remote accepts outside the window (a WhatsApp template)
    resend: bool = False
    detail: str = ""


# ---------------------------------------------------------------------------
# The documented record. Pydantic so that its JSON Schema can be generated.


class ReporterRecord(BaseModel):
    """The reporter as stored with a complaint."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    handle: str | None = None
    chat_id: str | None = None


class AttachmentRecord(BaseModel):
    """An attachment as stored: bytes live on disk or in the database."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    stored: bool = Field(description="false when the file exceeded the size limit")
    inline: bool = False


class LocationRecord(BaseModel):
    """A point on the map, with an optional human label."""

    model_config = ConfigDict(frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    label: str | None = None


class Complaint(BaseModel):
    """A complaint as Dengar records it: one per inbound item that is kept."""

    model_config = ConfigDict(frozen=True)

    kind: RecordKind
    tracking_no: str | None = Field(
        default=None, description="set on cases; follow-ups share their case's"
    )
    channel: str
    external_id: str
    message_id: str | None = None
    received_at: AwareDatetime
    reporter: ReporterRecord
    subject: str | None = None
    original_text: str = Field(description="the text exactly as received")
    clean_text: str = Field(description="text for display and matching")
    attachments: list[AttachmentRecord] = Field(default_factory=list)
    location: LocationRecord | None = None
    category: str | None = None
    region: str | None = None
    confidentiality: Confidentiality = Confidentiality.BIASA
    status: CaseStatus = CaseStatus.RECEIVED
    agency_code: str | None = None
    ignored_reason: str | None = None
    duplicate_of: str | None = Field(
        default=None, description="tracking number of the primary case"
    )
    follow_up_of: str | None = Field(
        default=None, description="tracking number of the case this continues"
    )
    raw_format: RawFormat
