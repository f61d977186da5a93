"""``dengar dedupe``: why a case is (not) a duplicate; link and unlink by hand."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

# the database, the duplicate index and its scorers (numpy, rapidfuzz) when
# a command runs: `dengar dedupe --help` loads none of them
if TYPE_CHECKING:
    from sqlmodel import Session

    from normalizer.dedupe.index import DuplicateIndex
    from storage.tables import ComplaintRow


@click.group()
def dedupe() -> None:
    """Duplicate links between cases."""


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _case_or_exit(session: Session, tracking_no: str) -> ComplaintRow:
    from dengar.cli.common import err
    from normalizer.dedupe.database import find_case

    row = find_case(session, tracking_no.strip().upper())
    if row is None:
        err.print(f"[red]No case {tracking_no}[/red]", highlight=False, soft_wrap=True)
        sys.exit(1)
    return row


def _tracking(session: Session, case_id: int | None) -> str:
    from storage.tables import ComplaintRow

    if case_id is None:
        return "-"
    row = session.get(ComplaintRow, case_id)
    return (row.tracking_no if row else None) or f"#{case_id}"


def explanation(
    session: Session, index: DuplicateIndex, row: ComplaintRow, limit: int = 10
) -> dict[str, Any]:
    """What ``explain`` prints, as data: the link, its reason, the unlinks,
    the supporters and the nearest candidates with their verdicts."""
    from normalizer.dedupe.database import case_from_row, supporters, unlinked_pairs
    from normalizer.dedupe.paraphrase import linked, probability

    assert row.id is not None
    case = case_from_row(row)
    candidates = [c for c in index.scored(case) if c.id != row.id][:limit]
    in_other_words = []
    for c in candidates:
        parts = index.paraphrase_parts(case, c.id)
        in_other_words.append(
            {
                "probability": round(probability(parts), 3),
                "linked": linked(parts),
                "components": [
                    {
                        "code": p.code,
                        "label": p.label,
                        "detail": p.detail,
                        "contribution": round(p.contribution, 2),
                    }
                    for p in parts
                ],
            }
        )
    return {
        "tracking_no": row.tracking_no,
        "status": row.status,
        "category": row.category,
        "region": row.region,
        "in_index": row.id in index,
        "duplicate_of": _tracking(session, row.duplicate_of_id)
        if row.duplicate_of_id
        else None,
        "score": row.duplicate_score,
        "reason": row.duplicate_reason,
        "supporters": supporters(session, row.id),
        "unlinked_from": [
            _tracking(
                session, u.other_id if u.complaint_id == row.id else u.complaint_id
            )
            + f" by {u.actor}"
            for u in unlinked_pairs(session, row.id)
        ],
        "matching_text": case.text,
        "candidates": [
            {
                "tracking_no": c.tracking_no or f"#{c.id}",
                "score": c.score,
                "shared_weight": c.shared_weight,
                "verdict": c.verdict,
                "paraphrase": words,
            }
            for c, words in zip(candidates, in_other_words, strict=True)
        ],
    }


@dedupe.command()
@click.argument("tracking_no")
@click.option("--limit", default=10, show_default=True, help="Candidates to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def explain(ctx: click.Context, tracking_no: str, limit: int, as_json: bool) -> None:
    """Why case TRACKING_NO is (or is not) linked, and its nearest candidates."""
    from dengar.app import known_places
    from dengar.cli.common import console, open_app
    from normalizer.dedupe.database import rebuild_index

    app = open_app(ctx)
    with app.sessions() as session:
        row = _case_or_exit(session, tracking_no)
        index = rebuild_index(
            session, app.settings.dedupe, known_places=known_places(app.settings)
        )
        data = explanation(session, index, row, limit)
    asyncio.run(app.close())
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    s = app.settings.dedupe
    console.print(
        f"[bold]{data['tracking_no']}[/bold] ({data['status']}; category "
        f"{data['category'] or '-'}; region {data['region'] or '-'})",
        highlight=False,
        soft_wrap=True,
    )
    if data["duplicate_of"]:
        score = "by hand" if data["score"] is None else f"score {data['score']:g}"
        console.print(
            f"duplicate of {data['duplicate_of']} ({score}): {data['reason'] or ''}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("not linked to another case", highlight=False, soft_wrap=True)
    if data["supporters"]:
        console.print(f"{data['supporters']} case(s) are duplicates of this one")
    for line in data["unlinked_from"]:
        console.print(f"unlinked from {line}: never linked again automatically")
    console.print(
        f"matching text: {data['matching_text']}", highlight=False, soft_wrap=True
    )
    console.print(
        f"rule: {s.scorer} >= {s.threshold:g} within {s.window_days:g} days "
        f"(same reporter: >= {s.same_reporter_threshold:g} within "
        f"{s.same_reporter_hours:g} h)",
        highlight=False,
        soft_wrap=True,
    )
    if not data["in_index"]:
        console.print("(the case is closed or outside the window: nothing links to it)")
    table = Table(title="Nearest candidates")
    for column in ("case", "score", "shared rarity", "verdict", "in other words"):
        table.add_column(column, overflow="fold")
    for c in data["candidates"]:
        words = c["paraphrase"]
        table.add_row(
            c["tracking_no"],
            f"{c['score']:g}",
            f"{c['shared_weight']:g}",
            c["verdict"],
            f"{words['probability']:.2f}" + (" (link)" if words["linked"] else ""),
        )
    console.print(table)
    if data["candidates"]:
        _print_paraphrase(data)


def _print_paraphrase(data: dict[str, Any]) -> None:
    """The parts of the paraphrase score against the linked case (or the
    candidate that scores best in other words), in Indonesian for staff."""
    from dengar.cli.common import console
    from normalizer.dedupe.paraphrase import THRESHOLD

    chosen = next(
        (c for c in data["candidates"] if c["tracking_no"] == data["duplicate_of"]),
        max(data["candidates"], key=lambda c: c["paraphrase"]["probability"]),
    )
    words = chosen["paraphrase"]
    table = Table(
        title=f"Kemiripan makna dengan {chosen['tracking_no']}: "
        f"{words['probability']:.2f} (ambang {THRESHOLD:.2f})"
    )
    for column in ("komponen", "temuan", "kontribusi"):
        table.add_column(column, overflow="fold")
    for part in words["components"]:
        table.add_row(part["label"], part["detail"], f"{part['contribution']:+.2f}")
    console.print(table)


@dedupe.command()
@click.argument("tracking_no")
@click.argument("target")
@click.option("--actor", default=None, help="Who decided (default: cli:<user>).")
@click.pass_context
def link(ctx: click.Context, tracking_no: str, target: str, actor: str | None) -> None:
    """Make case TRACKING_NO a duplicate of TARGET (of its primary)."""
    from dengar import audit
    from dengar.cli.common import console, err, open_app
    from dispatcher.duplicates import sync_duplicates
    from normalizer.dedupe.database import LinkError, link_manually
    from storage.tables import ComplaintRow

    app = open_app(ctx)
    with app.sessions() as session:
        row = _case_or_exit(session, tracking_no)
        other = _case_or_exit(session, target)
        assert row.id is not None
        assert other.id is not None
        try:
            change = link_manually(session, row.id, other.id, actor or _default_actor())
        except LinkError as exc:
            err.print(f"[red]Cannot link[/red]: {exc}", highlight=False, soft_wrap=True)
            sys.exit(1)
        # the case and its duplicates now follow the primary's status
        primary_row = session.get(ComplaintRow, change.primary_id)
        if primary_row is not None:
            sync_duplicates(session, primary_row, actor or _default_actor())
        audit.record(
            session,
            actor or _default_actor(),
            "case_link",
            row.tracking_no,
            f"-> {other.tracking_no}",
        )
        session.commit()
        primary = _tracking(session, change.primary_id)
        moved = [_tracking(session, i) for i in change.moved]
    asyncio.run(app.close())
    console.print(
        f"{row.tracking_no} is now a duplicate of {primary}",
        highlight=False,
        soft_wrap=True,
    )
    if moved:
        console.print(
            f"its duplicates moved along: {', '.join(moved)}", highlight=False
        )


@dedupe.command("unlink")
@click.argument("tracking_no")
@click.option("--actor", default=None, help="Who decided (default: cli:<user>).")
@click.pass_context
def unlink_(ctx: click.Context, tracking_no: str, actor: str | None) -> None:
    """Make case TRACKING_NO a case of its own again; never relinked
    automatically to the same case."""
    from dengar import audit
    from dengar.cli.common import console, err, open_app
    from normalizer.dedupe.database import LinkError, unlink

    app = open_app(ctx)
    with app.sessions() as session:
        row = _case_or_exit(session, tracking_no)
        assert row.id is not None
        former = _tracking(session, row.duplicate_of_id)
        try:
            unlink(session, row.id, actor or _default_actor())
        except LinkError as exc:
            err.print(
                f"[red]Cannot unlink[/red]: {exc}", highlight=False, soft_wrap=True
            )
            sys.exit(1)
        audit.record(session, actor or _default_actor(), "case_unlink", row.tracking_no)
        session.commit()
    asyncio.run(app.close())
    console.print(
        f"{row.tracking_no} is no longer a duplicate of {former}; "
        "it will not be linked to it again automatically",
        highlight=False,
        soft_wrap=True,
    )
