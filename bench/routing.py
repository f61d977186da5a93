"""Routing that learns, on real SP4N-LAPOR! complaints (issue 21).

    python -m bench.routing                       # the issue's run
    python -m bench.readme routing -- python -m bench.routing

Stratified 5-fold cross-validation over the labelled complaints
(``tests/fixtures/routing/lapor-2017.csv``, 421 rows): each fold's model is
trained on the other four folds only, so every complaint is judged by a
model that never saw it. For each way of routing it reports the share
routed to the right agency (accuracy), the share routed automatically to a
wrong agency, and the share left to triage:

- the example configuration's keyword rules (``config/dengar.example.yaml``,
  categories → agencies; nothing matching = triage), the baseline;
- the model alone at ``--threshold`` (below it = triage), and a sweep;
- rules then model, as a deployment with ``routing.model`` on runs it
  (a matching rule wins; the model decides the rest), with all the example's
  rules and with only its keyword rules (its category rules left out);
- the learning curve: the model trained on a share of each training fold.

Then the speed: training on ``--train-size`` complaints made by recombining
sentences of the labelled ones within each agency (so the vocabulary grows
as real text would), and one prediction (``Router.route``, rules + model).
Targets: accuracy >= 0.80 with <= 8 % to a wrong agency; training on 10,000
complaints in seconds, a prediction in about a millisecond.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from config.loader import load_settings
from config.settings import Settings
from dispatcher.routing import Router
from dispatcher.routing_examples import read_examples
from dispatcher.routing_model import RoutingModel
from normalizer.classify import classify

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "fixtures" / "routing" / "lapor-2017.csv"
EXAMPLE = ROOT / "config" / "dengar.example.yaml"

# (predicted agency or None for triage) per complaint
Decide = Callable[[str], str | None]


def score(predicted: Sequence[str | None], truth: Sequence[str]) -> tuple[float, ...]:
    """(accuracy, wrong agency, triage) as shares of all complaints."""
    n = len(truth)
    right = sum(p == t for p, t in zip(predicted, truth, strict=True))
    triage = sum(p is None for p in predicted)
    return right / n, (n - right - triage) / n, triage / n


def rules_router(settings: Settings, model: RoutingModel | None = None) -> Decide:
    """The configured rules (and ``model`` when given) as a decision."""
    routing = settings.routing
    if model is not None:
        routing = routing.model_copy(
            update={"model": routing.model.model_copy(update={"enabled": True})}
        )
    router = Router(routing, model, 1 if model else None)

    def decide(text: str) -> str | None:
        found = classify(text, settings.categories)
        decision = router.route(text, found[0] if found else None)
        if decision.to_triage or decision.method == "default":
            return None
        return decision.agency_code

    return decide


def cross_validate(
    texts: list[str],
    agencies: list[str],
    settings: Settings,
    threshold: float,
    sweep: Sequence[float],
    shares: Sequence[float],
    folds: int,
) -> dict[str, list[str | None]]:
    """The decision of each way of routing for every complaint, each from a
    model that did not see it."""
    labels = np.asarray(agencies)
    n = len(texts)
    out: dict[str, list[str | None]] = {}

    def put(name: str, index: int, value: str | None) -> None:
        out.setdefault(name, [None] * n)[index] = value

    baseline = rules_router(settings)
    model_settings = settings.routing.model.model_copy(
        update={"auto_threshold": threshold}
    )
    at_threshold = settings.model_copy(
        update={
            "routing": settings.routing.model_copy(update={"model": model_settings})
        }
    )
    # the rules that name words of their own; category rules left out
    keyword_rules = at_threshold.model_copy(
        update={
            "routing": at_threshold.routing.model_copy(
                update={"rules": [r for r in settings.routing.rules if r.keywords]}
            )
        }
    )
    for i, text in enumerate(texts):
        put("rules", i, baseline(text))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    rng = random.Random(0)
    for train, test in splitter.split(texts, labels):
        model = RoutingModel.train(
            [texts[i] for i in train], [agencies[i] for i in train]
        )
        combined = rules_router(at_threshold, model)
        precise = rules_router(keyword_rules, model)
        for i in test:
            best = model.suggest(texts[i], n=1)[0]
            for t in sweep:
                put(f"model@{t:.2f}", i, best.agency if best.confidence >= t else None)
            put("top1", i, best.agency)
            put("rules+model", i, combined(texts[i]))
            put("keywords+model", i, precise(texts[i]))
        for share in shares:
            if share >= 1:
                continue
            part = _stratified_part(list(train), agencies, share, rng)
            small = RoutingModel.train(
                [texts[i] for i in part], [agencies[i] for i in part]
            )
            for i in test:
                best = small.suggest(texts[i], n=1)[0]
                put(
                    f"curve{share}",
                    i,
                    best.agency if best.confidence >= threshold else None,
                )
    return out


def _stratified_part(
    index: list[int], agencies: list[str], share: float, rng: random.Random
) -> list[int]:
    by_agency: dict[str, list[int]] = {}
    for i in index:
        by_agency.setdefault(agencies[i], []).append(i)
    part: list[int] = []
    for members in by_agency.values():
        keep = max(3, round(len(members) * share))
        part += rng.sample(members, min(keep, len(members)))
    return part


def synthetic(
    texts: list[str], agencies: list[str], size: int
) -> tuple[list[str], list[str]]:
    """``size`` complaints recombined from the sentences of real ones of the
    same agency (for timing only: their labels are the agency's)."""
    rng = random.Random(1)
    sentences: dict[str, list[str]] = {}
    for text, agency in zip(texts, agencies, strict=True):
        parts = [s for s in re.split(r"(?<=[.!?\n])\s+", text) if s.strip()]
        sentences.setdefault(agency, []).extend(parts)
    out_t, out_a = [], []
    for _ in range(size):
        agency = rng.choice(agencies)  # as often as in the labelled set
        pool = sentences[agency]
        out_t.append(" ".join(rng.choice(pool) for _ in range(rng.randint(2, 6))))
        out_a.append(agency)
    return out_t, out_a


def timing(
    texts: list[str], agencies: list[str], settings: Settings, size: int
) -> tuple[float, float, int, float, float]:
    """(training seconds on ``size`` complaints, wall and CPU, features,
    median and p95 milliseconds of one routing decision, rules + model)."""
    big_t, big_a = synthetic(texts, agencies, size)
    started, cpu = time.perf_counter(), time.process_time()
    model = RoutingModel.train(big_t, big_a)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    features = model.feature_count
    decide = rules_router(settings, model)
    # CPU time of this process: on a shared machine the wall clock of one
    # call also counts the other processes that ran meanwhile
    samples = []
    for text in texts:
        started = time.process_time()
        decide(text)
        samples.append((time.process_time() - started) * 1000)
    samples.sort()
    return (
        seconds,
        cpu,
        features,
        statistics.median(samples),
        samples[int(len(samples) * 0.95)],
    )


def main() -> None:
    """Cross-validate, time, and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--config", type=Path, default=EXAMPLE)
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="default: routing.model.auto_threshold of --config",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=10_000)
    args = parser.parse_args()
    settings = load_settings(args.config)
    threshold = args.threshold or settings.routing.model.auto_threshold
    texts, agencies = read_examples(args.data, {a.code for a in settings.agencies})
    sweep = sorted({0.4, 0.5, 0.6, 0.7, 0.8, threshold})
    shares = (0.25, 0.5, 0.75, 1.0)
    decided = cross_validate(
        texts, agencies, settings, threshold, sweep, shares, args.folds
    )
    n = len(texts)
    print(
        f"{n} labelled complaints ({args.data.name}), stratified {args.folds}-fold "
        f"cross-validation: every complaint judged by a model that never saw it; "
        f"threshold {threshold:.2f}; shares of all complaints"
    )
    print("| routing | accuracy (right agency) | wrong agency | triage |")
    print("|---|---|---|---|")
    rows = [
        ("keyword rules of the example config (baseline)", "rules"),
        (f"model alone at {threshold:.2f}", f"model@{threshold:.2f}"),
        (f"example rules, then model at {threshold:.2f}", "rules+model"),
        (
            f"example's keyword rules only, then model at {threshold:.2f}",
            "keywords+model",
        ),
        ("model's first choice, never triage", "top1"),
    ]
    for label, key in rows:
        acc, wrong, tri = score(decided[key], agencies)
        print(f"| {label} | {acc:.3f} | {wrong:.1%} | {tri:.1%} |")
    print("\nthreshold sweep, model alone")
    print("| threshold | accuracy | wrong agency | triage |")
    print("|---|---|---|---|")
    for t in sweep:
        acc, wrong, tri = score(decided[f"model@{t:.2f}"], agencies)
        print(f"| {t:.2f} | {acc:.3f} | {wrong:.1%} | {tri:.1%} |")
    print(
        f"\nlearning curve, model alone at {threshold:.2f} (part of each training fold)"
    )
    print("| training complaints | accuracy | wrong agency | triage |")
    print("|---|---|---|---|")
    per_fold = n * (args.folds - 1) / args.folds
    for share in shares:
        key = f"model@{threshold:.2f}" if share >= 1 else f"curve{share}"
        acc, wrong, tri = score(decided[key], agencies)
        print(f"| ~{per_fold * share:.0f} | {acc:.3f} | {wrong:.1%} | {tri:.1%} |")
    seconds, cpu, features, p50, p95 = timing(
        texts, agencies, settings, args.train_size
    )
    print(
        f"\ntraining on {args.train_size:,} complaints (sentences of the labelled "
        f"ones recombined within each agency): {seconds:.1f} s ({cpu:.1f} s of "
        f"CPU), {features:,} features"
    )
    print(
        f"one routing decision (rules, then that model; {n} complaints), CPU: "
        f"median {p50:.2f} ms, p95 {p95:.2f} ms"
    )


if __name__ == "__main__":
    main()
