"""Whether a message says anything about a problem.

A first message is very often only a greeting ("halo", "assalamualaikum
min"), thanks, "ok", a test mail or an emoji. Such a message opens no case:
the pipeline records it as ignored and tells its sender how to write a
complaint. Decided by content, not by a list of whole messages: a text says
nothing when none of its words is left after the stopwords
(``stopwords_id.txt``), the courtesy words (``courtesy_id.txt``), laughter,
the words of the sender's own name, phone numbers and one-letter tokens.

Anything else the citizen sends carries content: a photo, a document, a
voice note (also one too large to keep or that could not be downloaded), a
shared location or phone number (a photo of a pothole is a complaint), and
so does a number ("RT 5").
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from contracts.records import InboundMessage
from normalizer.matching import DATA_DIR, matching_text, matching_tokens, stopwords
from normalizer.normalize import Normalized

COURTESY_FILE = DATA_DIR / "courtesy_id.txt"
# what the pipeline writes as the reason of the record it keeps
CONTENT_LESS_REASON = "no complaint content"

# laughter and its variants: wkwk, wkwkwk, haha, hehehe, hihi, xixi
_LAUGH = re.compile(r"(?:wk)+w?|(?:h[aeiou]){2,}h?|(?:[aeiou]h){2,}|(?:xi){2,}")
_PHONE = re.compile(r"(?<!\d)(?:\+?62|0)[\s.-]?8[\d\s.-]{7,14}\d")
_REPLY_PREFIX = ("re:", "fwd:", "fw:", "aw:", "balas:")
_HEAD = 2000  # characters read first (see says_nothing)


def load_courtesy(path: Path = COURTESY_FILE) -> frozenset[str]:
    """The courtesy words of ``path``, in matching form."""
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            words.update(matching_tokens(line))
    return frozenset(words)


@lru_cache(maxsize=1)
def courtesy_words() -> frozenset[str]:
    """The shipped courtesy words (read once)."""
    return load_courtesy()


def complaint_words(
    subject: str | None, text: str, reporter_name: str | None = None
) -> list[str]:
    """The words of a message that may say something about a problem, in
    order: those of its subject (not a reply's: "Re: …" repeats ours) and
    its text, without stopwords, courtesy words, laughter, phone numbers,
    one-letter tokens and the words of the sender's name."""
    if subject and not subject.lower().startswith(_REPLY_PREFIX):
        text = f"{subject}\n{text}"
    skip = stopwords() | courtesy_words()
    if reporter_name:
        skip = skip | set(matching_text(reporter_name).split())
    return [
        token
        for token in matching_tokens(_PHONE.sub(" ", text))
        if (len(token) > 1 or token.isdigit())
        and token not in skip
        and not _LAUGH.fullmatch(token)
    ]


def says_nothing(fields: Normalized, item: InboundMessage) -> bool:
    """True when ``item`` has no complaint content: no file, location or
    shared phone number, and no :func:`complaint_words` in its text."""
    if fields.attachments or fields.location is not None:
        return False
    if item.contact_shared or item.missing_files:
        return False  # a phone number given, or a file we could not keep
    name, text = fields.reporter.name, fields.clean_text
    if len(text) > _HEAD:
        # a complaint names its problem early: most long texts are decided
        # by their first lines, without a pass over all of them
        head = text[: text.rfind(" ", 0, _HEAD) + 1 or _HEAD]
        if complaint_words(fields.subject, head, name):
            return False
    return not complaint_words(fields.subject, text, name)
