"""Meta's webhook JSON → ``InboundMessage`` (one per ``messages[]`` entry).

The shapes follow the Cloud API webhook reference (``object:
whatsapp_business_account``, ``entry[].changes[].value``). Identity: the
business-scoped user id (``contacts[].user_id`` / ``messages[].from_user_id``)
is the reporter key; the phone number (``wa_id`` / ``from``) may be absent
and is kept only as the reporter's phone (PII, masked like any phone).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.meta_json import (
    COMMANDS,
    SHAPE_ERRORS,
    MalformedPayload,
    epoch_time,
    listed,
    load_envelope,
    raw_json,
    read_command,
    text_of,
)
from contracts.records import InboundMessage, Location, Reporter

__all__ = ["COMMANDS", "MEDIA_LIMITS", "MalformedPayload", "changes", "load"]

# documented limits of the Cloud API per media type (bytes)
MEDIA_LIMITS = {
    "image": 5 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "document": 100 * 1024 * 1024,
    "sticker": 500 * 1024,
}
MEDIA_TYPES = frozenset(MEDIA_LIMITS)
# how Telegram's file kinds are named, so dengar.missing_files describes them
_FILE_KIND = {"image": "photo", "audio": "audio", "video": "video"}


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file to download: ``GET /<version>/<media_id>`` gives its URL."""

    media_id: str
    kind: str  # image, audio, video, document, sticker
    content_type: str
    filename: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Converted:
    """An item and the media it still needs."""

    item: InboundMessage
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """One ``statuses[]`` entry: what became of a message we sent."""

    message_id: str
    status: str  # sent, delivered, read, failed
    timestamp: datetime
    error_codes: tuple[int, ...] = ()
    recipient: str | None = None  # the business-scoped id, else the phone


@dataclass(slots=True)
class ParsedChange:
    """What one ``changes[]`` entry of the body holds."""

    phone_number_id: str | None
    items: list[Converted] = field(default_factory=list)
    statuses: list[DeliveryStatus] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    ignored: int = 0


def load(body: bytes) -> Mapping[str, Any]:
    """The body as JSON, checked to be a WhatsApp Business Account event."""
    return load_envelope(body, ("whatsapp_business_account",))


def changes(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The ``value`` of every ``messages`` change in the body."""
    for field_name, value in _all_changes(data):
        if field_name == "messages":
            yield value


def other_changes(data: Mapping[str, Any]) -> list[str]:
    """The fields of the changes this channel does not read (template
    reviews, account updates…), or ``"?"`` for one without a value."""
    return [name for name, _value in _all_changes(data) if name != "messages"]


def _all_changes(
    data: Mapping[str, Any],
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for entry in listed(data.get("entry")):
        if not isinstance(entry, Mapping):
            continue
        if not isinstance(entry.get("changes", []), list):
            yield "?", {}  # quarantined as a change this channel cannot read
        for change in listed(entry.get("changes")):
            if not isinstance(change, Mapping):
                yield "?", {}
                continue
            value = change.get("value")
            # Meta names the field of every change; an older test console
            # sent messages without it
            name = change.get("field", "messages")
            if not isinstance(value, Mapping):
                yield "?", {}
            else:
                yield str(name), value


def phone_number_ids(data: Mapping[str, Any]) -> set[str]:
    """Every business number the body speaks for."""
    return {pid for value in changes(data) if (pid := _phone_number_id(value))}


def _phone_number_id(value: Mapping[str, Any]) -> str | None:
    meta = value.get("metadata")
    return _str(meta.get("phone_number_id")) if isinstance(meta, Mapping) else None


def parse_change(value: Mapping[str, Any], *, channel: str) -> ParsedChange:
    """Convert one change's messages and statuses; a bad message is listed
    in ``problems`` and the others go on."""
    parsed = ParsedChange(phone_number_id=_phone_number_id(value))
    contacts = _contacts(value.get("contacts"))
    for key in ("messages", "statuses"):
        if not isinstance(value.get(key, []), list):
            parsed.problems.append((key, f"{key} is not a list"))
    for message in listed(value.get("messages")):
        try:
            parsed.items.append(_message(message, contacts, raw_json(message), channel))
        except MalformedPayload as exc:
            parsed.problems.append((_id_of(message), str(exc)))
        except SHAPE_ERRORS as exc:
            # a field of an unexpected type, or nested too deeply to copy:
            # this message is quarantined, the others go on
            why = f"malformed message: {type(exc).__name__}: {exc}"
            parsed.problems.append((_id_of(message), why))
    for status in listed(value.get("statuses")):
        converted = _status(status)
        if converted is None:
            parsed.problems.append(("status", "status without id or state"))
        else:
            parsed.statuses.append(converted)
    return parsed


def _id_of(message: object) -> str:
    wamid = message.get("id") if isinstance(message, Mapping) else None
    return str(wamid or "unknown")[:200]


def _contacts(raw: object) -> dict[str, Mapping[str, Any]]:
    """Contacts by both their ids, so a message finds its sender's."""
    found: dict[str, Mapping[str, Any]] = {}
    for contact in raw if isinstance(raw, list) else ():
        if not isinstance(contact, Mapping):
            continue
        for key in ("user_id", "wa_id"):
            if value := _str(contact.get(key)):
                found[value] = contact
    return found


def _message(
    message: object,
    contacts: Mapping[str, Mapping[str, Any]],
    raw: bytes,
    channel: str,
) -> Converted:
    if not isinstance(message, Mapping):
        raise MalformedPayload("message is not an object")
    wamid = _str(message.get("id"))
    kind = _str(message.get("type"))
    if not wamid or not kind:
        raise MalformedPayload("message without id or type")
    phone = _str(message.get("from"))
    contact = contacts.get(_str(message.get("from_user_id")) or "") or contacts.get(
        phone or "", {}
    )
    user_id = _str(message.get("from_user_id")) or _str(contact.get("user_id"))
    phone = phone or _str(contact.get("wa_id"))
    previous: tuple[str, ...] = ()
    if kind == "system":
        user_id, phone, previous = _changed_identity(message, user_id, phone)
    key = user_id or phone
    if not key:
        raise MalformedPayload("message without sender (no user_id and no wa_id)")
    profile = contact.get("profile")
    name = _str(profile.get("name")) if isinstance(profile, Mapping) else None
    reporter = Reporter(name=name, phone=f"+{phone}" if phone else None, chat_id=key)

    metadata: dict[str, Any] = {"wa_type": kind}
    hint: str | None = None
    text: str | None = None
    location: Location | None = None
    media: tuple[MediaRef, ...] = ()
    body = message.get(kind)
    body = body if isinstance(body, Mapping) else {}
    if kind == "text":
        text = _str(body.get("body"))
    elif kind in MEDIA_TYPES:
        media_id = _str(body.get("id"))
        if not media_id:
            raise MalformedPayload(f"{kind} without media id")
        content_type = _str(body.get("mime_type")) or "application/octet-stream"
        filename = _str(body.get("filename")) or f"{kind}-{media_id}"
        file_kind = "voice" if kind == "audio" and body.get("voice") else kind
        media = (
            MediaRef(
                media_id=media_id,
                kind=_FILE_KIND.get(file_kind, file_kind),
                content_type=content_type,
                filename=filename,
                sha256=_str(body.get("sha256")),
            ),
        )
        text = _str(body.get("caption"))
    elif kind == "location":
        location = _location(body)
        text = _str(body.get("address")) or _str(body.get("name"))
    elif kind == "contacts":
        hint = "foreign_contact"
    elif kind == "interactive":
        reply = body.get(_str(body.get("type")) or "")
        chosen = _str(reply.get("id")) if isinstance(reply, Mapping) else None
        text = chosen
    elif kind == "button":
        # a quick-reply button of a template: its payload is our command
        text = _str(body.get("payload")) or _str(body.get("text"))
    elif kind == "system":
        # the citizen's number or business-scoped id changed: a notice for
        # us, not something the citizen wrote
        hint = "system"
        metadata["system_type"] = _str(body.get("type"))
    elif kind == "reaction":
        hint = "reaction"
        metadata["reaction_to"] = _str(body.get("message_id"))
    else:
        # "unsupported" and kinds newer than this adapter: kept, answered
        hint = "unsupported"

    command, command_args = read_command(text) if text else (None, "")
    context = message.get("context")
    in_reply_to: tuple[str, ...] = ()
    if isinstance(context, Mapping) and (quoted := _str(context.get("id"))):
        in_reply_to = (f"wa:{quoted}",)
    item = InboundMessage(
        channel=channel,
        external_id=f"wamid:{wamid}",
        received_at=_time(message.get("timestamp")),
        raw=raw,
        raw_format="json",
        text=text,
        reporter=reporter,
        location=location,
        in_reply_to=in_reply_to,
        message_id=f"wa:{wamid}",
        metadata=metadata,
        command=command,
        command_args=command_args,
        hint=hint,
        previous_chat_ids=previous,
    )
    return Converted(item=item, media=media)


def _changed_identity(
    message: Mapping[str, Any], user_id: str | None, phone: str | None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """A ``system`` message's sender as they are now, and the ids they had.

    ``user_changed_number``: ``from`` is the old number and ``system.wa_id``
    the new one (``new_wa_id`` before Graph API v12); a new number also
    brings a new business-scoped id, ``system.user_id``, with the old one in
    ``system.previous_user_id`` (since August 2026). ``user_changed_user_id``
    reports only the business-scoped ids. Another system type names no new
    identity: the sender stays as the message gives it."""
    body = message.get("system")
    body = body if isinstance(body, Mapping) else {}
    if _str(body.get("type")) not in ("user_changed_number", "user_changed_user_id"):
        return user_id, phone, ()
    new_user = _str(body.get("user_id"))
    new_phone = _str(body.get("wa_id")) or _str(body.get("new_wa_id"))
    if not (new_user or new_phone):
        return user_id, phone, ()
    new_key = new_user or new_phone
    earlier = (_str(body.get("previous_user_id")), user_id, phone)
    previous = tuple(dict.fromkeys(k for k in earlier if k and k != new_key))
    # without a new number (a new business-scoped id only) the number stays
    return new_user, new_phone or phone, previous


def _location(body: Mapping[str, Any]) -> Location:
    try:
        latitude = float(body["latitude"])
        longitude = float(body["longitude"])
    except (KeyError, TypeError, ValueError):
        raise MalformedPayload("location without latitude/longitude") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise MalformedPayload("location out of range")
    return Location(
        latitude=latitude, longitude=longitude, label=_str(body.get("name"))
    )


def _status(status: object) -> DeliveryStatus | None:
    if not isinstance(status, Mapping):
        return None
    message_id = _str(status.get("id"))
    state = _str(status.get("status"))
    if not message_id or not state:
        return None
    codes = tuple(
        int(e["code"])
        for e in listed(status.get("errors"))
        if isinstance(e, Mapping) and isinstance(e.get("code"), int)
    )
    return DeliveryStatus(
        message_id=message_id,
        status=state,
        timestamp=_time(status.get("timestamp")),
        error_codes=codes,
        recipient=_str(status.get("recipient_user_id"))
        or _str(status.get("recipient_id")),
    )


_time = epoch_time
_str = text_of
