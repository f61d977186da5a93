"""The MIME tree of a mail, exactly as ``email.message_from_bytes`` (policy
``compat32``) builds it, in a fraction of its time on large mails.

The standard parser reads a mail line by line in Python, and almost all of
those lines are base64 or body text it only collects. Such a line cannot
change the tree when it is not blank, does not start with ``-`` (so it is no
boundary) and is either no header or follows a line that is none (so the
parser is reading a body, not headers): the parser only appends it to the
current payload, preamble or epilogue. ``parse_tree`` therefore hands the
parser a skeleton in which each long run of such lines is one short
placeholder line, then puts every run back where its placeholder landed.
When a placeholder turns up anywhere else (it cannot, but that is the
parser's contract, not ours) or the bytes do not suit the trick, the mail is
parsed as it is.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

# Lines that end a run: blank (the end of a header block, or of a block of a
# delivery report) or starting with "-" (a possible boundary). Matched at the
# line feed before them.
_RUN_BREAK = re.compile(rb"\n(?=[-\r\n])")
# the parser's ``headerRE``: a header, a continuation or an mbox "From " line
_HEADER_LIKE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*+:|[\t ]")
_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")
_MIN_RUN = 160  # shorter runs cost more to swap than they save


def parse_tree(raw: bytes) -> Message:
    """``email.message_from_bytes(raw, policy=compat32)``, only faster."""
    runs: list[str] = []
    skeleton = _skeleton(raw, runs)
    if skeleton is None:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    tree = email.message_from_string(skeleton, policy=email.policy.compat32)
    if not _restore(tree, runs):
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    return tree


def _skeleton(raw: bytes, runs: list[str]) -> str | None:
    """``raw`` as text (as the bytes parser decodes it) with each long run of
    plain body lines replaced by ``\\0<n>\\0`` (the run itself in ``runs``,
    without its last line end, which stays in the skeleton).

    A run starts at a line that is not blank, no header and no boundary, and
    goes on up to the next blank or "-" line: whatever the parser is reading
    (headers, a body, a preamble), such a first line leaves it reading a body,
    so the lines after it are body lines too, even when they look like
    headers.
    """
    if b"\x00" in raw or len(raw) < 4 * _MIN_RUN:
        return None  # NUL would make placeholders ambiguous; small: no gain
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # a lone CR ends a line for the parser, not for us
    pieces: list[bytes] = []
    kept = 0  # ``raw[:kept]`` is in ``pieces`` already
    # where the lines between two run-breaking lines start
    segment = 0
    if raw[:1] in (b"-", b"\r", b"\n"):
        first_end = raw.find(b"\n")
        segment = len(raw) if first_end < 0 else first_end + 1
    for match in _RUN_BREAK.finditer(raw):
        kept = _take_run(raw, segment, match.start() + 1, kept, pieces, runs)
        line_end = raw.find(b"\n", match.start() + 1)
        segment = len(raw) if line_end < 0 else line_end + 1
    kept = _take_run(raw, segment, len(raw), kept, pieces, runs)
    if not runs:
        return None
    pieces.append(raw[kept:])
    return b"".join(pieces).decode("ascii", "surrogateescape")


def _take_run(
    raw: bytes,
    start: int,
    end: int,
    kept: int,
    pieces: list[bytes],
    runs: list[str],
) -> int:
    """Swap the run in ``raw[start:end]`` (lines without a break) for a
    placeholder if it is long enough; the new ``kept`` offset."""
    while end - start >= _MIN_RUN and _HEADER_LIKE.match(raw, start):
        line_end = raw.find(b"\n", start, end)
        if line_end < 0:
            return kept
        start = line_end + 1
    if end - start < _MIN_RUN:
        return kept
    pieces.append(raw[kept:start])
    pieces.append(_placeholder(raw[start:end], runs))
    return end


def _placeholder(run: bytes, runs: list[str]) -> bytes:
    """The line that stands for ``run``; its line end stays in the text, as
    the parser strips the line end before a boundary."""
    if run.endswith(b"\r\n"):
        ending = b"\r\n"
    elif run.endswith(b"\n"):
        ending = b"\n"
    else:
        ending = b""  # the last line of the mail
    runs.append(run[: len(run) - len(ending)].decode("ascii", "surrogateescape"))
    return b"\x00%d\x00" % (len(runs) - 1) + ending


def _restore(tree: Message, runs: list[str]) -> bool:
    """Put every run back in place of its placeholder; False if one is not
    in a payload, preamble or epilogue, or appears twice."""
    used = 0

    def swap(text: str) -> str:
        nonlocal used
        if "\x00" not in text:
            return text
        parts = _PLACEHOLDER.split(text)
        for index in range(1, len(parts), 2):
            used += 1
            parts[index] = runs[int(parts[index])]
        return "".join(parts)

    for part in tree.walk():
        # the payload as stored: get_payload() would decode 8-bit text
        payload = vars(part).get("_payload")
        if isinstance(payload, str):
            part.set_payload(swap(payload))
        if part.preamble:
            part.preamble = swap(part.preamble)
        if part.epilogue:
            part.epilogue = swap(part.epilogue)
    return used == len(runs)
