"""Text folded for comparison, the same for every layer that compares words
(routing keywords, duplicate matching)."""

from __future__ import annotations

import unicodedata


def fold_for_matching(text: str) -> str:
    """Lower case without accents: ``Jalán`` and ``JALAN`` compare equal."""
    if text.isascii():
        return text.lower()  # the common case, and the hot path of routing
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
