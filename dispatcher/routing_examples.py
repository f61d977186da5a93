"""Labelled complaints from a CSV file for ``dengar routing learn FILE.csv``:
columns ``text`` and ``agency``, optionally ``title``; other columns are
ignored. Every problem of the file is reported at once, with its rows."""

from __future__ import annotations

import csv
import difflib
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

from dispatcher.routing_store import routing_text

MAX_ROWS_SHOWN = 10


class ExamplesError(ValueError):
    """The file cannot be learnt from; the message lists every problem."""


def read_examples(
    path: Path, known_agencies: Collection[str]
) -> tuple[list[str], list[str]]:
    """(texts, agencies) of the file; ``ExamplesError`` naming each unknown
    agency with its rows (numbered as a spreadsheet shows them, the header
    being row 1), rows without text, and missing columns."""
    texts: list[str] = []
    agencies: list[str] = []
    unknown: dict[str, list[int]] = defaultdict(list)
    empty: list[int] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ExamplesError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = {(name or "").strip().lower() for name in reader.fieldnames or ()}
        missing = [c for c in ("text", "agency") if c not in columns]
        if missing:
            raise ExamplesError(
                f"{path}: missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(sorted(columns)) or 'none'})"
            )
        for number, record in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): v or "" for k, v in record.items()}
            agency = row["agency"].strip().upper()
            text = routing_text(row.get("title", "").strip(), row["text"].strip())
            if not row["text"].strip():
                empty.append(number)
            elif agency not in known_agencies:
                unknown[agency].append(number)
            else:
                texts.append(text)
                agencies.append(agency)
    problems = [
        _unknown_problem(code, rows, known_agencies) for code, rows in unknown.items()
    ]
    if empty:
        problems.append(f"no text in {_rows(empty)}")
    if problems:
        raise ExamplesError(
            f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems)
        )
    return texts, agencies


def _unknown_problem(code: str, rows: list[int], known: Collection[str]) -> str:
    hint = difflib.get_close_matches(code, list(known), n=1)
    suggestion = f"; did you mean {hint[0]}?" if hint else ""
    label = repr(code) if code else "(empty)"
    return (
        f"unknown agency {label} in {_rows(rows)} "
        f"(known: {', '.join(sorted(known))}){suggestion}"
    )


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    more = (
        f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
    )
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"
