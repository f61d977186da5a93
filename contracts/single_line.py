"""Text that must stay on one line and read the way it is stored.

A subject, a sender's name or a file name goes into mail headers and
one-line labels. Decoded from RFC 2047 (``=?utf-8?q?…=0D=0A…?=``) or taken
from a chat, it can hold a CR/LF (which ends a header and starts another,
or makes the mail library refuse the message), other control characters, or
bidirectional controls such as U+202E RIGHT-TO-LEFT OVERRIDE, which make
``tagihan‮fdp.exe`` show as ``tagihanexe.pdf``. :func:`single_line` turns
every line break into a space and drops the rest, in one linear pass.

Shared by the normalizer (where mail headers are read), the sinks and the
reply channels (where headers are written), so what one side cleans the
other never has to trust.
"""

from __future__ import annotations

import re

# every character that breaks a line: CR, LF, VT, FF, NEL, LS, PS
_BREAKS = "\r\n\x0b\x0c\x85\u2028\u2029"
# bidirectional and invisible format controls: marks, embeddings,
# overrides, isolates, the Arabic letter mark, and zero-width joiners'
# relatives that can hide text
_BIDI = (
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\u200b\u2060\ufeff"
)
_C0_C1 = "".join(chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)))

_TABLE = str.maketrans(
    {
        **{c: None for c in _C0_C1 + _BIDI},
        **{c: " " for c in _BREAKS + "\t"},
    }
)
_RUNS = re.compile(r" {2,}")


def single_line(text: str | None) -> str:
    """``text`` on one line: breaks and tabs become spaces, control and
    bidirectional formatting characters are dropped, runs of spaces become
    one, and the ends are trimmed."""
    if not text:
        return ""
    line = text.translate(_TABLE)
    if "  " in line:
        line = _RUNS.sub(" ", line)
    return line.strip()
