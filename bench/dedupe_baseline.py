"""A cache of the exhaustive scan's decisions for ``bench/dedupe.py``.

The exhaustive scan runs about 3 queries/s at a 1M-case window, so one run
covers a few hundred of the 2,000 queries. With ``--baseline-cache DIR``
its decisions are kept between runs, and each run extends them: a change
to the candidate search (which does not change what the scan decides) is
then judged against all of them, run after run. The cache is keyed by
everything the scan's decisions depend on: the settings, the source of
the rules and of the text normalisation, and the corpus itself.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

from config.dedupe_settings import DedupeSettings
from normalizer import matching
from normalizer.dedupe import details as dedupe_details
from normalizer.dedupe import keys as dedupe_records
from normalizer.dedupe.index import DedupeCase, DuplicateIndex

# what decides a link once a case is scored: not the candidate search
_RULES = (
    dedupe_details,
    dedupe_records,
    matching,
    DuplicateIndex.verdict,
    DuplicateIndex._misplaced,
    DuplicateIndex._target,
    DuplicateIndex.primary_of,
)


def baseline_key(
    settings: DedupeSettings, cases: list[DedupeCase], queries: list[DedupeCase]
) -> str:
    """A digest of what the exhaustive scan's decisions depend on."""
    digest = hashlib.sha256(settings.model_dump_json().encode())
    for part in _RULES:
        digest.update(inspect.getsource(part).encode())
    for case in (*cases, *queries):
        digest.update(
            f"{case.id}|{case.text}|{case.category}|{case.region}|"
            f"{case.received_at.isoformat()}|{sorted(case.reporter)}\n".encode()
        )
    return digest.hexdigest()[:20]


def load(folder: Path, key: str) -> tuple[dict[int, int | None], float]:
    """The cached decisions (query id → target id) and the CPU seconds they
    took, or nothing."""
    path = folder / f"exhaustive-{key}.json"
    if not path.exists():
        return {}, 0.0
    data = json.loads(path.read_text())
    return {int(q): t for q, t in data["decisions"].items()}, float(data["seconds"])


def save(
    folder: Path, key: str, decisions: dict[int, int | None], seconds: float
) -> None:
    """Keep the decisions for the next run (written whole, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"exhaustive-{key}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"decisions": decisions, "seconds": seconds}))
    tmp.replace(path)
