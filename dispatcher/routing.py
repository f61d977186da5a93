"""Which agency gets a case: rules from config, a triage agency otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.settings import RoutingRule, RoutingSettings
from normalizer.text import fold_for_matching


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The agency chosen for a case and why, in words staff can read."""

    agency_code: str
    reason: str
    rule_index: int | None = None
    # no rule matched and routing.unmatched is "triage": staff decide
    to_triage: bool = False


class Router:
    """Routes by keywords (whole words, ignoring case and accents), category
    and region. Among matching rules the highest score wins (2 per keyword
    hit, 1 for a category or region condition), a tie goes to the earlier
    rule, and no match goes to ``default_agency``."""

    def __init__(self, settings: RoutingSettings) -> None:
        self.settings = settings
        self._patterns = [_keyword_patterns(rule) for rule in settings.rules]

    def route(
        self, text: str, category: str | None = None, region: str | None = None
    ) -> RouteDecision:
        """Decide the agency for a case with this text, category and region."""
        folded = fold_for_matching(text)
        best: tuple[int, int, list[str]] | None = None
        for index, rule in enumerate(self.settings.rules):
            if rule.categories and category not in rule.categories:
                continue
            if rule.regions and not _region_matches(rule, region):
                continue
            hits = [
                kw for kw, pattern in self._patterns[index] if pattern.search(folded)
            ]
            if rule.keywords and not hits:
                continue
            # a keyword is more specific than a category: it weighs double
            score = 2 * len(hits) + bool(rule.categories) + bool(rule.regions)
            if best is None or score > best[0]:
                best = (score, index, hits)
        if best is None:
            if self.settings.unmatched == "triage":
                return RouteDecision(
                    self.settings.default_agency,
                    "no rule matched: triage",
                    to_triage=True,
                )
            return RouteDecision(
                self.settings.default_agency, "no rule matched: default agency"
            )
        _, index, hits = best
        rule = self.settings.rules[index]
        return RouteDecision(
            rule.agency, _explain(index, rule, hits, category, region), index
        )


def _keyword_patterns(rule: RoutingRule) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for keyword in rule.keywords:
        words = fold_for_matching(keyword).split()
        body = r"\s+".join(re.escape(w) for w in words)
        out.append((keyword, re.compile(rf"(?<!\w){body}(?!\w)")))
    return out


def _region_matches(rule: RoutingRule, region: str | None) -> bool:
    if region is None:
        return False
    folded = fold_for_matching(region)
    return any(fold_for_matching(r) == folded for r in rule.regions)


def _explain(
    index: int,
    rule: RoutingRule,
    hits: list[str],
    category: str | None,
    region: str | None,
) -> str:
    parts = []
    if hits:
        parts.append("keywords " + ", ".join(hits))
    if rule.categories:
        parts.append(f"category {category}")
    if rule.regions:
        parts.append(f"region {region}")
    return f"routing.rules[{index}]: " + "; ".join(parts)
