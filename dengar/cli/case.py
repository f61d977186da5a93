"""``dengar case``: staff commands on one case.

    dengar case update KTB-7K3M-9Q2D --status in_progress \
        --message "Tim sudah ke lokasi" --note "regu 2, alat berat besok"
    dengar case update KTB-7K3M-9Q2D --status dispatched --agency PUPR

``--message`` goes to the reporters; ``--note`` stays in the case's history
and never reaches a citizen. The command takes what it needs from the click
context object the main command sets up: ``.sessions`` (a session factory),
``.notify`` (a callable ``(row, text) -> bool`` that queues a message to the
citizen and says whether it could), for ``--agency`` ``.enqueue`` (a callable
``(session, row) -> None`` that queues the case for its agency) and, if
there, ``.settings`` (for the tracking prefix and the known agencies) and
``.unreachable`` (``row -> reason | None``: why a reporter cannot be told).
"""

from __future__ import annotations

import getpass
import re
import sys
from typing import TYPE_CHECKING, Any

import click

from config.settings import Settings
from contracts.records import CaseStatus

# the database side when the command runs: `dengar case --help` opens nothing
if TYPE_CHECKING:
    from storage.tables import ComplaintRow


def _from_context(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    if value is None:
        raise click.UsageError(
            f"dengar case needs the application context ({name!r} is missing)"
        )
    return value


def _settings(obj: Any) -> Settings | None:
    """The application's settings in the click context; None without them."""
    found = (
        obj.get("settings") if isinstance(obj, dict) else getattr(obj, "settings", None)
    )
    return found if isinstance(found, Settings) else None


def _agency_code(obj: Any, typed: str) -> str:
    """``typed`` as a configured agency code; a usage error names the known ones."""
    code = typed.strip().upper()
    settings = _settings(obj)
    if settings is not None:
        known = sorted(a.code for a in settings.agencies)
        if code not in known:
            raise click.BadParameter(
                f"unknown agency {typed!r} (known: {', '.join(known)})",
                param_hint="--agency",
            )
    return code


def _prefix(obj: Any, typed: str) -> str:
    settings = _settings(obj)
    if settings is not None:
        return settings.tracking_prefix
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
    "--message",
    default=None,
    help="Sent to the reporter(s) with the new status. Required for rejected.",
)
@click.option(
    "--note",
    default=None,
    help="Internal note for staff and agencies; never sent to the reporter. "
    "Required for rerouted.",
)
@click.option(
    "--agency",
    default=None,
    help="With --status dispatched: the agency to forward to (its delivery is "
    "queued). Required when the case has no agency.",
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
    message: str | None,
    note: str | None,
    agency: str | None,
    actor: str | None,
) -> None:
    """Set the status of case TRACKING_NO and notify its reporter(s)."""
    from sqlmodel import select

    from contracts.tracking import canonical
    from dengar import audit
    from dispatcher.status import NoAgencyError, StatusChangeError, change_status
    from storage.tables import ComplaintRow

    if agency is not None and new_status != CaseStatus.DISPATCHED.value:
        raise click.UsageError(
            "--agency goes with --status dispatched only "
            "(to move a case between agencies use the dashboard's 'Alihkan')"
        )
    obj: Any = ctx.obj
    if isinstance(obj, dict) and obj.get("sessions") is None:
        from dengar.cli.common import open_app

        app = open_app(ctx)
        obj = {
            "sessions": app.sessions,
            "notify": app.notify,
            "settings": app.settings,
            "enqueue": app.pipeline.enqueue_for_agency,
            "unreachable": app.pipeline.replies.unreachable_reason,
        }
    sessions = _from_context(obj, "sessions")
    notify = _from_context(obj, "notify")
    code = _agency_code(obj, agency) if agency is not None else None
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
        who_has = row.agency_code
        if code is not None and code != row.agency_code:
            _assign(obj, session, row, code, who)
            audit.record(
                session, who, "case_reroute", number, f"{who_has or '-'} -> {code}"
            )
        try:
            change_status(
                session,
                row,
                CaseStatus(new_status),
                note,
                who,
                lambda r, text: told.append((r, text)),
                message,
            )
        except NoAgencyError as exc:
            click.echo(f"{number}: {exc}; name it with --agency CODE", err=True)
            sys.exit(1)
        except StatusChangeError as exc:
            click.echo(f"{number}: {exc}", err=True)
            sys.exit(1)
        audit.record(session, who, "case_status", number, f"{old} -> {new_status}")
        session.commit()
    # after the commit: the notify callable opens its own transaction, which
    # on SQLite would wait for ours
    moved = f" (agency {who_has or '-'} -> {code})" if code != who_has and code else ""
    why_not = (
        obj.get("unreachable")
        if isinstance(obj, dict)
        else getattr(obj, "unreachable", None)
    )
    missed: list[str] = []
    queued = 0
    for recipient, text in told:
        if notify(recipient, text) is not False:
            queued += 1
            continue
        reason = (why_not(recipient) if why_not else None) or "nothing was queued"
        missed.append(f"{recipient.tracking_no or recipient.id}: {reason}")
    click.echo(
        f"{number}: {old} -> {new_status}{moved}; "
        f"{queued} message(s) queued to the reporter(s)"
    )
    for line in missed:
        click.echo(f"  not told: {line}", err=True)


def _assign(obj: Any, session: Any, row: ComplaintRow, code: str, who: str) -> None:
    """Give ``row`` to agency ``code`` and queue its delivery, in ``session``:
    "diteruskan" is only true once the agency's queue has the case."""
    from dengar.case_history import record_change

    enqueue = _from_context(obj, "enqueue")
    previous = row.agency_code or "-"
    row.agency_code = code
    row.routing_reason = f"diteruskan oleh {who} ke {code}"[:512]
    record_change(session, row, who, f"diberikan ke {code} (sebelumnya {previous})")
    enqueue(session, row)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
