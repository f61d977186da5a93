"""Outgoing message bodies for the Cloud API ``/messages`` call.

Limits from Meta's reference: text up to 4,096 characters; an interactive
message's body (reply buttons, location request) up to 1,024 characters,
at most 3 reply buttons with titles up to 20 characters and ids up to 256.
Interactive bodies are held to 1,024 UTF-8 bytes, which is never more
characters, since Indonesian text with bullets and emoji counts either way
depending on whom one asks.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.records import OutgoingReply

MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
_PHONE = re.compile(r"^[0-9]{6,20}$")


def addressee(recipient: str) -> dict[str, str]:
    """``to`` for a phone number, ``recipient`` for a business-scoped id."""
    if _PHONE.match(recipient):
        return {"recipient_type": "individual", "to": recipient}
    return {"recipient_type": "individual", "recipient": recipient}


def free_form(recipient: str, reply: OutgoingReply) -> list[dict[str, Any]]:
    """The messages for ``reply`` inside the 24-hour window: the text in
    parts of at most 4,096 characters, the choices as reply buttons under
    the last part (a separate short prompt when that part is too long),
    then the location request when the reply asks where.

    Without choices, a last part that fits an interactive body together
    with the question where is sent as the location request itself (its
    body is text of up to 1,024 characters under which WhatsApp puts the
    "Kirim lokasi" button): one message instead of two, as Telegram's
    acknowledgement carries its location button. Reply buttons and the
    location button cannot share a message (each is its own interactive
    type), so with choices the request follows on its own."""
    parts = split(reply.text, MAX_TEXT)
    messages: list[dict[str, Any]] = [
        {**addressee(recipient), "type": "text", "text": {"body": part}}
        for part in parts
    ]
    prompt = reply.location_prompt
    if reply.choices:
        last = parts[-1]
        if fits(last):
            messages.pop()  # the buttons carry it
        else:
            last = "Silakan pilih:"
        messages.append(buttons(recipient, last, reply.choices))
    elif prompt and fits(with_prompt := f"{parts[-1]}\n\n{prompt}"):
        messages[-1] = location_request(recipient, with_prompt)
        prompt = ""
    if prompt:
        messages.append(location_request(recipient, prompt))
    return messages


def buttons(
    recipient: str, body: str, choices: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """Up to 3 reply buttons under ``body``; a tap answers with the id."""
    return {
        **addressee(recipient),
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {
                        "type": "reply",
                        "reply": {
                            "id": command[:256],
                            "title": label[:MAX_BUTTON_TITLE],
                        },
                    }
                    for label, command in choices[:MAX_BUTTONS]
                ]
            },
        },
    }


def location_request(recipient: str, prompt: str) -> dict[str, Any]:
    """A message with WhatsApp's "Kirim lokasi" button; the citizen's answer
    comes back as an ordinary ``location`` message."""
    return {
        **addressee(recipient),
        "type": "interactive",
        "interactive": {
            "type": "location_request_message",
            "body": {"text": truncate(prompt, MAX_INTERACTIVE_BODY)},
            "action": {"name": "send_location"},
        },
    }


def fits(text: str) -> bool:
    """Whether ``text`` may be an interactive message's body."""
    return len(text.encode()) <= MAX_INTERACTIVE_BODY


def truncate(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-8 bytes, on a character."""
    data = text.encode()
    if len(data) <= size:
        return text
    return data[: size - 3].decode(errors="ignore") + "…"


def template(
    recipient: str, name: str, language: str, tracking_no: str
) -> dict[str, Any]:
    """An approved template whose one body parameter is the tracking number."""
    return {
        **addressee(recipient),
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": tracking_no}],
                }
            ],
        },
    }


def split(text: str, size: int) -> list[str]:
    """``text`` in parts of at most ``size`` characters, cut at line breaks
    where possible."""
    parts: list[str] = []
    rest = text or " "
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > 0 else size
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return parts
