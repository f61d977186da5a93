"""Quoted replies and signatures out of a mail's text, for display and
matching (the original text is always kept beside it).

Recognised: "On … wrote:" headers of Gmail/Apple/Thunderbird/Yahoo/Android
in English, Indonesian ("Pada … menulis:") and a few other languages, also
wrapped over up to three lines; ``>`` quoted lines (inline answers between
them are kept); Outlook's "-----Original Message-----" and
"From: … Sent: …" blocks (Indonesian "Dari: … Dikirim: …" too); ``-- ``
signatures; "Sent from my …"/"Dikirim dari … saya" lines.

Forwarded messages ("---------- Forwarded message ----------", our own
"Pesan terusan") are content, not quotes, and are kept. When stripping
would leave nothing, the text is returned as it was: a complaint must never
display empty.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"(wrote|writes|menulis|tulis|schrieb|a [ée]crit|escribi[óo]|ha scritto|"
    r"skrev|schreef|napisa[łl]|написал|написала|kirjoitti|yazd[i\u0131]|"
    r"<[^<>\s]+@[^<>\s]+>)\s*:\s*$",
    re.IGNORECASE,
)
_WROTE_START = re.compile(
    r"^[\s>*_-]*(on|pada|pd|tanggal|am|le|el|op|il|den|em|w dniu|\d{1,4}[./-]|"
    r"(mon|tue|wed|thu|fri|sat|sun|sen|sel|rab|kam|jum|sab|min)[a-z]*,)",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*[-_=*]{2,}\s*(original message|original|pesan asli|pesan awal|"
    r"mensaje original|ursprüngliche nachricht|message d'origine|"
    r"reply message|balasan)\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
_FROM_WORDS = r"from|dari|von|de|van|от"
_HEADER_FROM = re.compile(rf"^\s*\*?({_FROM_WORDS})\s*:", re.IGNORECASE)
_HEADER_ANY = re.compile(
    rf"^\s*\*?({_FROM_WORDS}|sent|date|to|subject|cc|dikirim|tanggal|kepada|"
    r"subjek|perihal|gesendet|an|betreff|envoyé|objet|enviado|asunto|"
    r"отправлено|дата|кому|тема)\s*:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_FORWARD = re.compile(
    r"(forwarded message|pesan terusan|pesan yang diteruskan|begin forwarded message|"
    r"weitergeleitete nachricht|message transféré)",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"^\s*(sent from my\b|sent from (mail|yahoo|outlook|samsung|xiaomi|huawei)\b|"
    r"sent with \w+|get outlook for\b|"
    r"(dikirim|terkirim) (dari|dengan|melalui)\b|"
    r"diketik dari\b|gesendet von meinem\b|envoyé de mon\b|enviado desde mi\b)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")


def strip_quotes(text: str) -> str:
    """``text`` without quoted replies, reply headers and signatures."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        header_end = _reply_header_end(lines, index)
        if header_end is not None:
            if _next_is_quoted(lines, header_end):
                # bottom posting: drop header and quote, the answer follows
                index = header_end
                continue
            break
        if _cuts_here(lines, index):
            break
        if _QUOTED.match(line) or (_SENT_FROM.match(line) and len(line) < 100):
            index += 1
            continue
        kept.append(line)
        index += 1
    result = "\n".join(kept).strip()
    return result if result else text.strip()


def _reply_header_end(lines: list[str], index: int) -> int | None:
    """If an "On … wrote:" header starts at ``index``, the index after it."""
    if _QUOTED.match(lines[index]) or not lines[index].strip():
        return None
    # every reply header ends with a colon: most lines need no more than this
    if not any(line.rstrip().endswith(":") for line in lines[index : index + 3]):
        return None
    joined = ""
    for width in range(3):
        if index + width >= len(lines) or not lines[index + width].strip():
            return None  # a header is never split by a blank line
        joined = f"{joined} {lines[index + width].strip()}".strip()
        if len(joined) > 400:
            return None
        # every reply header ends with a colon: skip the regex otherwise
        if lines[index + width].rstrip().endswith(":") and _WROTE.search(joined):
            end = index + width + 1
            if _WROTE_START.match(joined):
                return end
            # "Budi wrote:" alone on its line, right above the quote
            if width == 0 and _next_is_quoted(lines, end):
                return end
            return None
    return None


def _cuts_here(lines: list[str], index: int) -> bool:
    """True when everything from ``index`` on is quoted history or signature."""
    line = lines[index]
    if ":" not in line and line.lstrip()[:1] not in ("-", "_", "=", "*"):
        return False  # neither a separator line nor a header line
    if _ORIGINAL.match(line):
        return True
    if line in ("-- ", "--", "-- \u00a0"):
        return True
    if _RULE.match(line):
        return _outlook_block_at(lines, _next_nonblank(lines, index + 1))
    return _outlook_block_at(lines, index)


def _outlook_block_at(lines: list[str], index: int) -> bool:
    """A block of at least three "From:/Sent:/To:/Subject:" lines (one of them
    From) starting here, not after a forward marker (forwards are content)."""
    if index >= len(lines) or not _HEADER_ANY.match(lines[index]):
        return False
    previous = _previous_nonblank(lines, index - 1)
    if previous >= 0 and _FORWARD.search(lines[previous]):
        return False
    block = [lines[index]]
    for line in lines[index + 1 : index + 8]:
        if not line.strip():
            break
        if _HEADER_ANY.match(line):
            block.append(line)
    return len(block) >= 3 and any(_HEADER_FROM.match(line) for line in block)


def _next_is_quoted(lines: list[str], index: int) -> bool:
    found = _next_nonblank(lines, index)
    return found < len(lines) and bool(_QUOTED.match(lines[found]))


def _next_nonblank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _previous_nonblank(lines: list[str], index: int) -> int:
    while index >= 0 and not lines[index].strip():
        index -= 1
    return index
