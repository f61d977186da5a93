"""Weighted keyword rules → the best category for a complaint.

Each category in the config maps words or phrases to weights. A text scores,
per category, the sum of the weights of the distinct keywords it contains as
whole words or phrases, compared in matching form (case, accents and
colloquial spelling do not matter: the keyword ``jalan`` matches ``JLN``).
The best score wins; a tie goes to the category listed first, so the result
never depends on anything but the text and the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from config.settings import CategorySettings
from normalizer.matching import matching_text


@lru_cache(maxsize=4096)
def _keyword_form(keyword: str) -> str:
    return matching_text(keyword)


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """One category's score for a text and the keywords that made it."""

    name: str
    score: float
    hits: tuple[str, ...]


def score_categories(
    text: str, categories: Sequence[CategorySettings], *, is_matching: bool = False
) -> list[CategoryScore]:
    """Every category with at least one hit, best first (ties: config order).

    ``is_matching`` says ``text`` is already :func:`matching_text` output.
    """
    padded = f" {text if is_matching else matching_text(text)} "
    scores: list[tuple[float, int, CategoryScore]] = []
    for order, category in enumerate(categories):
        total = 0.0
        hits: list[str] = []
        seen: set[str] = set()
        for keyword, weight in category.keywords.items():
            form = _keyword_form(keyword)
            if not form or form in seen:
                continue
            if f" {form} " in padded:
                seen.add(form)
                total += weight
                hits.append(keyword)
        if hits and total > 0:
            scores.append(
                (-total, order, CategoryScore(category.name, total, tuple(hits)))
            )
    scores.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in scores]


def classify(
    text: str, categories: Sequence[CategorySettings]
) -> tuple[str, float] | None:
    """The best category for ``text`` and its score; None when no keyword of
    any category occurs (or every score is zero or negative)."""
    ranked = score_categories(text, categories)
    if not ranked:
        return None
    return ranked[0].name, ranked[0].score
