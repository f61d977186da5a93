"""Train the routing model from a labelled file or from staff decisions, store
it as a new version and put it in use (``dengar routing learn``, the
runner's scheduled retraining)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dengar import audit
from dispatcher.routing_examples import read_examples
from dispatcher.routing_model import RoutingModel
from dispatcher.routing_store import history_examples, save_model

if TYPE_CHECKING:
    from dengar.app import App

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Learnt:
    """A model that was trained and stored: its version, what it learnt from,
    and how long training took."""

    version: int
    source: str
    per_agency: dict[str, int]
    seconds: float


def learn(
    app: App,
    texts: list[str],
    agencies: list[str],
    source: str,
    actor: str | None = None,
) -> Learnt:
    """Train on the examples, store the model as the next version and use it
    (``TrainingError`` when the examples cannot make a model). With
    ``actor`` (a person asked for it) the new version goes in the audit log
    in the same transaction."""
    started = time.perf_counter()
    model = RoutingModel.train(texts, agencies)
    seconds = time.perf_counter() - started
    per_agency = dict(sorted(Counter(agencies).items()))
    with app.sessions() as session:
        version = save_model(session, model, source)
        if actor is not None:
            audit.record(
                session,
                actor,
                "routing_learn",
                f"model rute v{version}",
                _learnt_from(source, per_agency),
            )
        session.commit()
    app.load_routing_model()
    return Learnt(version, source, per_agency, seconds)


def _learnt_from(source: str, per_agency: dict[str, int]) -> str:
    """What an admin reads of a training: how many examples, from where."""
    origin = (
        f"berkas {source.removeprefix('file:')}"
        if source.startswith("file:")
        else "keputusan staf (riwayat)"
    )
    counts = ", ".join(f"{code} {n}" for code, n in per_agency.items())
    return f"{sum(per_agency.values())} contoh dari {origin}: {counts}"


def learn_from_file(app: App, path: Path, actor: str | None = None) -> Learnt:
    """Learn from a CSV of ``text``, ``agency`` (and ``title``) whose agencies
    are in the configuration (``ExamplesError`` lists those that are not)."""
    known = {agency.code for agency in app.settings.agencies}
    texts, agencies = read_examples(path, known)
    return learn(app, texts, agencies, f"file:{path.name}", actor)


def learn_from_history(app: App, actor: str | None = None) -> Learnt:
    """Learn from the cases staff accepted at triage or re-routed."""
    with app.sessions() as session:
        texts, agencies = history_examples(session)
    known = {agency.code for agency in app.settings.agencies}
    # an agency removed from the configuration since cannot be routed to
    kept = [(t, a) for t, a in zip(texts, agencies, strict=True) if a in known]
    return learn(app, [t for t, _ in kept], [a for _, a in kept], "history", actor)


def retrain_if_enough(app: App) -> Learnt | None:
    """The scheduled retraining: learn from history when it holds at least
    ``routing.model.min_examples`` decisions, else leave the model as it is."""
    with app.sessions() as session:
        texts, _ = history_examples(session)
    needed = app.settings.routing.model.min_examples
    if len(texts) < needed:
        log.info(
            "routing model not retrained: %d staff decision(s), %d needed",
            len(texts),
            needed,
        )
        return None
    return learn_from_history(app)
