"""Where a value is in a remote system's answer: a JSON path, an XML path or
a regular expression (``http`` sink's ``response_id`` and ``status.path``).

Parsed when the configuration loads, so a bad path is reported with its
line; :func:`extract` then reads the value from an answer's bytes.

- JSON path: ``data.ticket.id``, ``$.data.items[0].id`` (keys separated by
  dots, list positions in brackets; a leading ``$`` or ``$.`` is allowed).
- XML path: ElementTree's path language (``./respon/nomor``, ``.//id``,
  ``{*}id`` for any namespace); the element's text is the value.
- Regular expression: the first group of the first match (or the whole match
  when it has no group), searched in the answer as text.
"""

from __future__ import annotations

import json
import re
from typing import Any

# answers larger than this are not searched (a ticket id is near the top)
MAX_ANSWER_BYTES = 1_000_000
_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class PathProblem(ValueError):
    """A path that cannot be used, or an answer it cannot be applied to."""


def json_steps(path: str) -> list[str | int]:
    """The keys and positions of a JSON path; :class:`PathProblem` if bad."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or match.end() == position:
            raise PathProblem(f"not a JSON path: {path!r} (at {text[position:]!r})")
        index, key = match.groups()
        steps.append(int(index) if index is not None else key.strip())
        position = match.end()
    if not steps:
        raise PathProblem(f"not a JSON path: {path!r} (it names nothing)")
    return steps


def check_xml_path(path: str) -> None:
    """Raise :class:`PathProblem` when ElementTree cannot use ``path``."""
    if path.strip().startswith("/"):
        raise PathProblem(
            f"not an XML path: {path!r} (start from the root element: './…')"
        )
    # ElementTree here: the settings of every start import this module
    import xml.etree.ElementTree as ET

    try:
        ET.fromstring("<a/>").find(path)
    except (SyntaxError, KeyError, TypeError) as exc:
        raise PathProblem(f"not an XML path: {path!r} ({exc})") from None


def check_regex(pattern: str) -> None:
    """Raise :class:`PathProblem` when ``pattern`` does not compile."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PathProblem(f"not a regular expression: {pattern!r} ({exc})") from None


def extract(
    body: bytes, *, json_path: str | None, xml_path: str | None, regex: str | None
) -> str | None:
    """The value at the given place in ``body``, as text; None when the
    answer does not have it. :class:`PathProblem` when the answer is not
    JSON/XML as the path expects."""
    if len(body) > MAX_ANSWER_BYTES:
        raise PathProblem(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
    if json_path is not None:
        return _from_json(body, json_steps(json_path))
    if xml_path is not None:
        return _from_xml(body, xml_path)
    if regex is not None:
        match = re.search(regex, body.decode("utf-8", "replace"))
        if match is None:
            return None
        value = match.group(1) if match.re.groups else match.group(0)
        return value.strip() or None if value is not None else None
    raise PathProblem("no place to look in was given")


def _from_json(body: bytes, steps: list[str | int]) -> str | None:
    try:
        current: Any = json.loads(body)
    except (ValueError, RecursionError):
        raise PathProblem("the answer is not JSON") from None
    for step in steps:
        if isinstance(step, int) and isinstance(current, list):
            current = current[step] if step < len(current) else None
        elif isinstance(step, str) and isinstance(current, dict):
            current = current.get(step)
        else:
            return None
        if current is None:
            return None
    if isinstance(current, dict | list):
        return None  # an id is a scalar; an object here is a wrong path
    if isinstance(current, bool):
        return str(current).lower()
    text = str(current).strip()
    return text or None


def _from_xml(body: bytes, path: str) -> str | None:
    # no DTD at all: entity expansion is the XML parser's way to cost more
    # than linear time, and no answer of a ticket system needs one
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise PathProblem("the answer has a DOCTYPE; it is not read")
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise PathProblem(f"the answer is not XML ({exc})") from None
    found = root.find(path)
    if found is None:
        return None
    text = "".join(found.itertext()).strip()
    return text or None
