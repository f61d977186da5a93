"""Text cleanup shared by every channel: Unicode, whitespace, HTML → text."""

from __future__ import annotations

import html
import re
import unicodedata

_WS = r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]"  # what becomes one " "
_WS_BUT_SPACE = r"[\t\u00a0\u2000-\u200b\u202f\u205f\u3000]"
# only the runs that change: a lone " " (most of any text) is left alone
_SPACES = re.compile(rf"{_WS_BUT_SPACE}{_WS}*| {_WS}+")
_LINE_EDGES = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# what no store can hold: NUL (PostgreSQL text refuses it) and lone
# surrogates (no UTF-8 form, so neither PostgreSQL nor SQLite takes them)
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` as every database can hold it: NUL removed, a lone surrogate
    (left by a wrongly labelled charset) replaced by U+FFFD."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    return _UNSTORABLE.sub(_replace_unstorable, text)


def _replace_unstorable(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def clean_text(text: str) -> str:
    """NFKC, normalised newlines and spaces, no control characters, trimmed
    (every line stripped, at most one blank line in a row)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if not text.isascii():
            return _clean_unicode(text)
    return _clean_ascii(text)


def _clean_ascii(text: str) -> str:
    # mail bodies run to hundreds of kilobytes: a regex scan of the whole
    # text costs far more than a substring test, so each pass runs only when
    # there is something for it to change
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("ascii")
    kept = data.translate(None, _CONTROL_BYTES)
    if len(kept) != len(data):
        text = kept.decode("ascii")
    if "\t" in text or "  " in text:
        text = _SPACES.sub(" ", text)
    # now the only whitespace is " " and "\n", at most one space on each side
    # of a line break
    if " \n" in text or "\n " in text:
        text = _LINE_EDGES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _clean_unicode(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", _CONTROL.sub("", text))
    # str.strip() knows more whitespace (U+2028, U+0085, ...) than _WS
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


_BLOCK = {
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor:
    """What each tag and run of text adds to the readable text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skip_depth = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "a" and self.href is not None:
            shown = "".join(self.link_text).strip()
            href = self.href
            self.href = None
            # keep the address unless the text already shows it
            if href.startswith(("http://", "https://")) and href not in shown:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        data = _HTML_SPACE.sub(" ", html.unescape(data))
        self.parts.append(data)
        if self.href is not None:
            self.link_text.append(data)


# The tokenizer is ours: the standard library's HTMLParser is quadratic on
# some unclosed constructs ("<a" repeated: 0.9 s for 20 kB, 4 ms for 5 kB)
# and raises AssertionError on others ("<![" repeated). Every step below
# moves forward, and each character is looked at a bounded number of times.
_HTML_SPACE = re.compile(r"\s+")
_TAG_START = re.compile(r"<[a-zA-Z/!?]")
_TAG_NAME = re.compile(r"[a-zA-Z][^\t\n\r\f />]*")
# one attribute in a tag's text; a quote that never closes is read as a
# bare value, so no quote is searched for twice in vain
_ATTRIBUTE = re.compile(
    r"""[\s/]*([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?"""
)
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in ("script", "style")
}


def _attributes(text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _ATTRIBUTE.finditer(text):
        name, value = match.group(1).lower(), match.group(2)
        if value and value[0] in "\"'" and len(value) > 1 and value[-1] == value[0]:
            value = value[1:-1]
        found.setdefault(name, html.unescape(value) if value is not None else None)
    return found


def _feed(markup: str, out: _TextExtractor) -> None:
    """Tokenise ``markup`` into ``out``'s handlers, in linear time."""
    position, size = 0, len(markup)  # position: where the pending text starts
    search = 0  # where to look for the next tag
    while position < size:
        start = _TAG_START.search(markup, search)  # a "<" alone is text
        if start is None:
            out.handle_data(markup[position:])
            return
        lt = start.start()
        following = markup[lt + 1]
        if lt > position:
            out.handle_data(markup[position:lt])
        if markup.startswith("<!--", lt):
            close = markup.find("-->", lt + 4)
            position = search = size if close < 0 else close + 3
            continue
        gt = markup.find(">", lt)
        if gt < 0:
            # no tag can end any more: the rest is text
            out.handle_data(markup[lt:])
            return
        position = search = gt + 1
        if following in "!?":
            continue  # a declaration or processing instruction
        closing = following == "/"
        inside = markup[lt + (2 if closing else 1) : gt]
        name_match = _TAG_NAME.match(inside)
        if name_match is None:
            continue
        tag = name_match.group().lower()
        if closing:
            out.handle_endtag(tag)
            continue
        rest = inside[name_match.end() :]
        # only links and images have attributes the text keeps
        attrs = list(_attributes(rest).items()) if tag in ("a", "img") else []
        if rest.endswith("/"):
            out.handle_startendtag(tag, attrs)
            continue
        out.handle_starttag(tag, attrs)
        if tag in _RAW_TEXT_END:
            # script and style hold no tags: skip to their end tag
            end = _RAW_TEXT_END[tag].search(markup, position)
            position = search = size if end is None else end.start()


def html_to_text(markup: str) -> str:
    """Readable text from HTML: blocks become lines, links keep their URL,
    scripts and styles are dropped."""
    extractor = _TextExtractor()
    _feed(markup, extractor)
    return clean_text("".join(extractor.parts))
