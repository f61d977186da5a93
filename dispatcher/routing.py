"""Which agency gets a case: rules from config, then the routing model
(when one is trained and enabled), a triage agency otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass

from config.settings import RoutingRule, RoutingSettings
from contracts.folding import fold_for_matching
from dispatcher.routing_model import RoutingModel, Suggestion

SUGGESTIONS = 3  # the model's agencies kept with a case and shown to staff


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The agency chosen for a case and why, in words staff can read.

    ``method`` is ``rule``, ``model`` or ``default``; ``to_triage`` is set
    when staff must choose: no rule matched and ``routing.unmatched`` is
    ``triage``, or the model was not sure enough (then ``suggestions`` help)."""

    agency_code: str
    reason: str
    rule_index: int | None = None
    # no rule matched and routing.unmatched is "triage": staff decide
    to_triage: bool = False
    method: str = "rule"
    suggestions: tuple[Suggestion, ...] = ()
    model_version: int | None = None
    threshold: float | None = None

    def detail(self) -> str:
        """The decision as JSON, kept with the case (``routing_detail``)."""
        data: dict[str, object] = {"method": self.method, "triage": self.to_triage}
        if self.rule_index is not None:
            data["rule"] = self.rule_index
        if self.model_version is not None:
            data["model_version"] = self.model_version
            data["threshold"] = self.threshold
            data["suggestions"] = [s.as_dict() for s in self.suggestions]
        return json.dumps(data, ensure_ascii=False)


class Router:
    """Routes by keywords (whole words, ignoring case and accents), category
    and region. Among matching rules the highest score wins (2 per keyword
    hit, 1 for a category or region condition), a tie goes to the earlier
    rule, and no match goes to ``default_agency``."""

    def __init__(
        self,
        settings: RoutingSettings,
        model: RoutingModel | None = None,
        model_version: int | None = None,
        agencies: Collection[str] | None = None,
    ) -> None:
        self.settings = settings
        self._patterns = [_keyword_patterns(rule) for rule in settings.rules]
        # a model decides only when the configuration turns it on
        self.model = model if settings.model.enabled else None
        self.model_version = model_version
        # a model trained before an agency left the configuration must not
        # route to it: its suggestions are left out
        self._unknown = (
            set()
            if model is None or agencies is None
            else set(model.agencies) - set(agencies)
        )

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
        decided = None
        if best is None and self.model is not None:
            decided = self._by_model(text, self.model)
        if decided is not None:
            return decided
        if best is None:
            if self.settings.unmatched == "triage":
                return RouteDecision(
                    self.settings.default_agency,
                    "no rule matched: triage",
                    to_triage=True,
                    method="default",
                )
            return RouteDecision(
                self.settings.default_agency,
                "no rule matched: default agency",
                method="default",
            )
        _, index, hits = best
        rule = self.settings.rules[index]
        return RouteDecision(
            rule.agency, _explain(index, rule, hits, category, region), index
        )

    def _by_model(self, text: str, model: RoutingModel) -> RouteDecision | None:
        """Below ``auto_threshold`` the case waits in triage; its agency is
        then the model's first suggestion, which staff accept or change.
        None when the model knows no configured agency."""
        threshold = self.settings.model.auto_threshold
        found = model.suggest(text, n=SUGGESTIONS + len(self._unknown))
        suggestions = tuple(s for s in found if s.agency not in self._unknown)
        suggestions = suggestions[:SUGGESTIONS]
        if not suggestions:
            return None
        top = suggestions[0]
        name = f"model v{self.model_version}" if self.model_version else "model"
        triage = top.confidence < threshold
        if triage:
            ranked = ", ".join(f"{s.agency} {s.confidence:.2f}" for s in suggestions)
            reason = f"{name} below {threshold:.2f}: triage; suggestions {ranked}"
        else:
            # the words stay in routing_detail: they come from the citizen's
            # text, which some readers see masked (the reason is not)
            reason = (
                f"{name}: {top.agency} at confidence {top.confidence:.2f}"
                f" (>= {threshold:.2f})"
            )
        return RouteDecision(
            top.agency,
            reason[:512],
            method="model",
            to_triage=triage,
            suggestions=suggestions,
            model_version=self.model_version,
            threshold=threshold,
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
