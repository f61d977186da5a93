"""``dengar case``: staff commands on one case.

    dengar case update ADU-7K3M-9Q2D --status in_progress --note "Tim sudah ke lokasi"

The command takes what it needs from the click context object the main
command sets up: ``.sessions`` (a session factory), ``.notify`` (a callable
``(row, text) -> None`` that queues a message to the citizen) and, if there,
``.settings`` (for the tracking prefix).
"""

from __future__ import annotations

import getpass
import re
import sys
from typing import Any

import click
from sqlmodel import select

from dispatcher.status import StatusChangeError, change_status
from normalizer.records import CaseStatus
from normalizer.tracking import canonical
from storage.tables import ComplaintRow


def _from_context(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    if value is None:
        raise click.UsageError(
            f"dengar case needs the application context ({name!r} is missing)"
        )
    return value


def _prefix(obj: Any, typed: str) -> str:
    settings = (
        obj.get("settings") if isinstance(obj, dict) else getattr(obj, "settings", None)
    )
    prefix = getattr(settings, "tracking_prefix", None)
    if isinstance(prefix, str):
        return prefix
    # no settings at hand: trust the letters the user typed
    match = re.match(r"\s*([A-Za-z]{2,8})", typed)
    return match.group(1).upper() if match else "ADU"


@click.group()
def case() -> None:
    """Look after one case: change its status (the reporters are told)."""


@case.command()
@click.argument("tracking_no")
@click.option(
    "--status",
    "new_status",
    required=True,
    type=click.Choice([s.value for s in CaseStatus]),
    help="The new status.",
)
@click.option(
    "--note",
    default=None,
    help="Why; shown to the reporter. Required for rejected and rerouted.",
)
@click.option(
    "--actor",
    default=None,
    help="Who made the change (default: cli:<login name>).",
)
@click.pass_context
def update(
    ctx: click.Context,
    tracking_no: str,
    new_status: str,
    note: str | None,
    actor: str | None,
) -> None:
    """Set the status of case TRACKING_NO and notify its reporter(s)."""
    obj: Any = ctx.obj
    if isinstance(obj, dict) and obj.get("sessions") is None:
        from dengar.cli import open_app  # here: dengar.cli imports this module

        app = open_app(ctx)
        obj = {"sessions": app.sessions, "notify": app.notify, "settings": app.settings}
    sessions = _from_context(obj, "sessions")
    notify = _from_context(obj, "notify")
    number = canonical(tracking_no, _prefix(obj, tracking_no))
    if number is None:
        click.echo(f"{tracking_no!r} is not a tracking number", err=True)
        sys.exit(2)
    who = actor or f"cli:{_login()}"
    told: list[tuple[ComplaintRow, str]] = []
    with sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(
                ComplaintRow.tracking_no == number, ComplaintRow.kind == "case"
            )
        ).first()
        if row is None:
            click.echo(f"no case {number}", err=True)
            sys.exit(1)
        old = row.status
        try:
            change_status(
                session,
                row,
                CaseStatus(new_status),
                note,
                who,
                lambda r, text: told.append((r, text)),
            )
        except StatusChangeError as exc:
            click.echo(f"{number}: {exc}", err=True)
            sys.exit(1)
        session.commit()
    # after the commit: the notify callable opens its own transaction, which
    # on SQLite would wait for ours
    for recipient, text in told:
        notify(recipient, text)
    click.echo(
        f"{number}: {old} -> {new_status}; {len(told)} reporter(s) will be notified"
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
