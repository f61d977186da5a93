"""Text cleanup shared by every channel: Unicode, whitespace, HTML → text."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

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


def fold_for_matching(text: str) -> str:
    """Lower case without accents: ``Jalán`` and ``JALAN`` compare equal."""
    if text.isascii():
        return text.lower()  # the common case, and the hot path of routing
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_BLOCK = {
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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
        data = re.sub(r"\s+", " ", data)
        self.parts.append(data)
        if self.href is not None:
            self.link_text.append(data)


def html_to_text(html: str) -> str:
    """Readable text from HTML: blocks become lines, links keep their URL,
    scripts and styles are dropped."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return clean_text("".join(parser.parts))
