"""``dengar routing``: train the routing model, list its versions, and say
why a case went where it went."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from config.localtime import CLI_FORMAT, local_time

# the model (numpy, scikit-learn) and the database when a command runs:
# `dengar routing --help` loads neither
if TYPE_CHECKING:
    from dengar.routing_learning import Learnt


@click.group()
def routing() -> None:
    """The routing model: learn it, list its versions, explain a case."""


@routing.command()
@click.argument(
    "file",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--from-history",
    is_flag=True,
    help="Learn from the cases staff accepted at triage or re-routed.",
)
@click.pass_context
def learn(ctx: click.Context, file: Path | None, from_history: bool) -> None:
    """Train the routing model on FILE.csv (columns text, agency, optional
    title) or on the deployment's own decisions, and store it as a new version."""
    from dengar.audit import cli_actor
    from dengar.cli.common import err, open_app
    from dengar.routing_learning import learn_from_file, learn_from_history
    from dispatcher.routing_examples import ExamplesError
    from dispatcher.routing_model import TrainingError

    if (file is None) == (not from_history):
        err.print("[red]Give either FILE.csv or --from-history[/red]", highlight=False)
        sys.exit(2)
    app = open_app(ctx)
    try:
        actor = cli_actor()
        learnt = (
            learn_from_history(app, actor)
            if file is None
            else learn_from_file(app, file, actor)
        )
    except (ExamplesError, TrainingError) as exc:
        err.print(f"[red]Cannot learn[/red]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    finally:
        asyncio.run(app.close())
    _print_learnt(learnt, app.settings.routing.model.enabled)


def _print_learnt(learnt: Learnt, enabled: bool) -> None:
    from dengar.cli.common import console

    total = sum(learnt.per_agency.values())
    console.print(
        f"routing model v{learnt.version} learnt from {total} example(s) "
        f"({learnt.source}) in {learnt.seconds:.1f} s",
        highlight=False,
    )
    console.print(
        ", ".join(f"{code} {n}" for code, n in learnt.per_agency.items()),
        highlight=False,
        soft_wrap=True,
    )
    if not enabled:
        console.print(
            "routing.model.enabled is false: turn it on to route with this model",
            highlight=False,
        )


@routing.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """The stored model versions, newest (the one in use) first."""
    from dengar.cli.common import console, open_app
    from dispatcher.routing_store import list_models, model_summary

    app = open_app(ctx)
    with app.sessions() as session:
        rows = [model_summary(row) for row in list_models(session)]
    asyncio.run(app.close())
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("No routing model was trained yet (dengar routing learn).")
        return
    table = Table("version", "source", "examples", "agencies", "created")
    for row in rows:
        table.add_row(
            str(row["version"]),
            row["source"],
            str(row["examples"]),
            ", ".join(row["agencies"]),
            local_time(row["created_at"], app.settings.timezone, CLI_FORMAT),
        )
    console.print(table)


@routing.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def explain(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Why case REF (tracking number or id) went where it went."""
    from dengar.cli.common import console, err, open_app
    from dengar.routing_explain import explanation
    from dengar.triage import TriageError, find_case

    app = open_app(ctx)
    try:
        with app.sessions() as session:
            try:
                row = find_case(session, ref)
            except TriageError as exc:
                err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
                sys.exit(1)
            data = explanation(session, row, app.pipeline.router)
    finally:
        asyncio.run(app.close())
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True, markup=False)

    say(
        f"{data['tracking_no']} ({data['status']}): agency {data['agency'] or '-'}; "
        f"category {data['category'] or '-'}; region {data['region'] or '-'}"
    )
    say(f"decided by: {data['summary']}")
    say(f"reason: {data['reason'] or '-'}")
    suggestions = data["detail"].get("suggestions") or []
    if suggestions:
        table = Table("agency", "confidence", "words that drove it", title="Model")
        for s in suggestions:
            table.add_row(
                s["agency"], f"{s['confidence']:.2f}", ", ".join(s["words"]) or "-"
            )
        console.print(table)
    for decision in data["staff_decisions"]:
        when = local_time(decision["at"], app.settings.timezone, CLI_FORMAT)
        say(f"then {decision['actor']} at {when}: {decision['note']}")
    now = data["now"]
    say(
        f"today the routing would send it to {now['agency']}"
        f"{' (triage)' if now['triage'] else ''} by {now['method']}: {now['reason']}"
    )
