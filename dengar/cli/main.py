"""The ``dengar`` command."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from config.localtime import local_time
from dengar.cli.common import console, err, open_app, open_store, settings_from
from dengar.cli.lazy import LazyGroup

if TYPE_CHECKING:
    from config.settings import Settings
    from dengar.runner import RunSummary
    from storage.quick_read import DbapiReader

# Commands of their own modules, imported only when run, so that `--help`
# and the light commands start fast (bench/cli.py); a test keeps the help
# texts equal to the commands' own.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "agency": ("dengar.cli.web:agency", "Agency API access."),
    "case": (
        "dengar.cli.case:case",
        "Look after one case: change its status (the reporters are told).",
    ),
    "dedupe": ("dengar.cli.dedupe:dedupe", "Duplicate links between cases."),
    "import": (
        "dengar.cli.importing:import_",
        "Import SOURCES: .eml files, mbox archives, folders of them, or X post URLs.",
    ),
    "outbox": (
        "dengar.cli.outbox:outbox",
        "Deliveries to agencies and replies to citizens.",
    ),
    "quarantine": (
        "dengar.cli.quarantine:quarantine",
        "Items that could not become records: list, show, replay.",
    ),
    "routing": (
        "dengar.cli.routing:routing",
        "The routing model: learn it, list its versions, explain a case.",
    ),
    "sink": ("dengar.cli.sink:sink", "Agency sinks: try an http sink's request."),
    "serve": (
        "dengar.cli.web:serve",
        "Serve the staff dashboard and the agency API (until SIGINT/SIGTERM).",
    ),
    "triage": (
        "dengar.cli.triage:triage",
        "What awaits a decision: social posts and unrouted cases (accept or dismiss...",
    ),
    "user": ("dengar.cli.web:user", "Dashboard accounts."),
}

EXAMPLE_GAZETTEER = (
    Path(__file__).resolve().parents[2] / "config" / "gazetteer.kotabaru.yaml"
)
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "dengar.example.yaml"
activity = logging.getLogger("dengar.activity")


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file (default: $DENGAR_CONFIG or ./dengar.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Dengar: complaint intake for local governments."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    # before the first record: libraries log tokens and secrets at DEBUG
    # (imported here: pydantic is too slow to import for --help)
    from config.redaction import install as install_log_masking

    install_log_masking()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="."
)
@click.pass_context
def init(ctx: click.Context, directory: Path) -> None:
    """Write a commented dengar.yaml (and the example gazetteer) into
    DIRECTORY and create the database."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "dengar.yaml"
    if target.exists():
        console.print(f"{target} exists; left as it is.")
    else:
        shutil.copyfile(EXAMPLE_CONFIG, target)
        gazetteer = directory / EXAMPLE_GAZETTEER.name
        if not gazetteer.exists():
            shutil.copyfile(EXAMPLE_GAZETTEER, gazetteer)
        console.print(f"Wrote {target}: edit it, then run `dengar check`.")
    if ctx.obj.get("config_path") is None:
        ctx.obj["config_path"] = target
    app = open_app(ctx)
    import asyncio  # here: its import is slow for --help

    asyncio.run(app.close())
    from storage.engine import safe_url

    console.print(f"Database ready: {safe_url(app.settings.database_url)}")


@main.command()
@click.option(
    "--once", is_flag=True, help="Poll every channel once, drain the outbox, exit."
)
@click.option(
    "--worker",
    is_flag=True,
    help="One of several processes sharing the database: poll only the "
    "channels whose lease this process holds.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="With --worker: how long a channel lease lasts without renewal "
    "(a dead worker's channels are taken over after this).",
)
@click.option(
    "--web", is_flag=True, help="Also serve the dashboard and agency API (web.*)."
)
@click.pass_context
def run(
    ctx: click.Context, once: bool, worker: bool, lease_seconds: float, web: bool
) -> None:
    """Take in complaints and deliver cases (until SIGINT/SIGTERM)."""
    if once and worker:
        err.print("--once and --worker cannot be combined")
        sys.exit(2)
    app = open_app(ctx)
    app.enable_dedupe()
    if not once:
        _announce_start(app.settings, web, worker)

    from dengar.runner import Runner

    async def go() -> RunSummary | None:
        runner = Runner(app, worker=worker, lease_seconds=lease_seconds)
        try:
            if once:
                return await runner.run_once()
            if web:
                from dengar.cli.web import serve_beside

                await serve_beside(app, runner.run_forever())
            else:
                await runner.run_forever()
            if runner.timed_out:
                # a batch is stuck in a database call past shutdown_timeout:
                # leave now; the database rolls its transaction back
                logging.shutdown()
                os._exit(0)
            return None
        finally:
            await app.close()

    import asyncio  # here: its import is slow for --help

    summary = asyncio.run(go())
    if not once:
        activity.info("dengar stopped")
    if summary is not None:
        print_summary(summary)
        if summary.errors:
            sys.exit(1)


def _announce_start(settings: Settings, web: bool, worker: bool) -> None:
    """The start line of ``dengar run``, shown without -v."""
    from storage.engine import safe_url

    activity.setLevel(logging.INFO)
    channels = ", ".join(f"{c.name} ({c.type})" for c in settings.channels if c.enabled)
    address = f"http://{settings.web.host}:{settings.web.port}" if web else "off"
    activity.info(
        "dengar started%s: channels %s; database %s; web %s",
        " as a worker" if worker else "",
        channels or "none enabled",
        safe_url(settings.database_url),
        address,
    )


def print_summary(summary: RunSummary) -> None:
    """The table ``run --once`` prints."""
    table = Table(title="Channels")
    for column in ("channel", "new", "follow-ups", "ignored", "seen before",
                   "duplicates", "quarantined", "skipped", "error"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for name, s in summary.channels.items():
        table.add_row(
            name,
            str(s.new_cases),
            str(s.follow_ups),
            str(s.ignored),
            str(s.already_stored),
            str(s.linked),
            str(s.quarantined),
            str(s.skipped),
            summary.errors.get(name, ""),
        )
    console.print(table)
    queued: dict[str, int] = {}
    held: dict[str, int] = {}
    for s in summary.channels.values():
        for code, n in s.queued.items():
            queued[code] = queued.get(code, 0) + n
        for code, n in s.held.items():
            held[code] = held.get(code, 0) + n
    agencies = Table(title="Agencies")
    agencies.add_column("agency")
    agencies.add_column("queued")
    # chat cases wait for the citizen's choice (confirmation_window) and go
    # out on a later drain
    agencies.add_column("held for choice")
    agencies.add_column("delivered")
    agencies.add_column("retrying / dead")
    targets = summary.outbox.by_target
    for code in sorted(set(queued) | {k.split(":")[0] for k in targets}):
        agencies.add_row(
            code,
            str(queued.get(code, 0)),
            str(held.get(code, 0)),
            str(targets.get(f"{code}:delivered", 0)),
            f"{targets.get(f'{code}:retry', 0)} / {targets.get(f'{code}:dead', 0)}",
        )
    console.print(agencies)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--cases", "with_cases", is_flag=True, help="Also list the cases.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, with_cases: bool) -> None:
    """Counts of complaints and deliveries, and each channel's health."""
    from dengar.status_report import cases, status_report
    from storage.quick_read import open_reader
    from storage.schema_head import head_revisions

    settings = settings_from(ctx)
    # the bare driver when the database is there and current (fast start,
    # bench/cli.py); else SQLAlchemy, which creates or migrates it first
    try:
        reader = open_reader(settings.database_url)
    except Exception:  # noqa: BLE001 - the server is down: SQLAlchemy's path says so
        reader = None
    if reader is not None and _revisions(reader) != head_revisions():
        reader.close()
        reader = None
    if reader is None:
        store = open_store(ctx)
        with store.sessions() as session:
            report = status_report(session, settings)
            if with_cases:
                report["cases"] = cases(session)
        store.close()
    else:
        report = status_report(reader, settings)
        if with_cases:
            report["cases"] = cases(reader)
        reader.close()
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    _print_status(report, settings.timezone)


def _revisions(reader: DbapiReader) -> frozenset[str]:
    """The schema revisions the database is at (none when unreadable)."""
    try:
        return frozenset(
            str(v) for (v,) in reader.rows("SELECT version_num FROM alembic_version")
        )
    except Exception:  # noqa: BLE001 - any driver's error: let SQLAlchemy look
        return frozenset()


def _when(value: str | None, zone_name: str) -> str:
    """A stored UTC time as the operator reads it: local, with its zone."""
    return local_time(value, zone_name, "%Y-%m-%d %H:%M")


def _duplicate(case: dict[str, Any]) -> str:
    """ "KTB-… (78)"; a case linked by hand has no score."""
    if not case["duplicate_of"]:
        return ""
    score = case["duplicate_score"]
    return str(case["duplicate_of"]) + (f" ({score:.0f})" if score is not None else "")


def _print_status(report: dict[str, Any], zone_name: str) -> None:
    c = report["complaints"]
    console.print(
        f"cases {c['cases']}, follow-ups {c['follow_ups']}, ignored {c['ignored']}, "
        f"duplicates {c['duplicates']}, quarantined {c['quarantined']}"
    )
    d = report["deliveries"]
    console.print("deliveries: " + ", ".join(f"{k} {v}" for k, v in d.items()))
    table = Table(title="Channels")
    for column in (
        "name",
        "type",
        "enabled",
        "healthy",
        "cases",
        "last poll",
        "last error",
    ):
        table.add_column(column)
    for ch in report["channels"]:
        table.add_row(
            ch["name"],
            ch["type"],
            "yes" if ch["enabled"] else "no",
            "yes" if ch["healthy"] else "[red]NO[/red]",
            str(ch["cases"]),
            _when(ch["last_poll_at"], zone_name),
            ch["disabled_reason"] or ch["last_error"] or "",
        )
    console.print(table)
    agencies = Table(title="Agencies")
    for column in ("code", "name", "sink", "cases"):
        agencies.add_column(column)
    for a in report["agencies"]:
        agencies.add_row(a["code"], a["name"], a["sink"], str(a["cases"]))
    console.print(agencies)
    if "cases" in report:
        table = Table(title="Cases")
        for column in (
            "tracking no",
            "received",
            "category",
            "agency",
            "status",
            "duplicate of",
        ):
            table.add_column(column)
        for case in report["cases"]:
            table.add_row(
                case["tracking_no"],
                _when(case["received_at"], zone_name),
                case["category"] or "-",
                case["agency"] or "-",
                case["status"],
                _duplicate(case),
            )
        console.print(table)


@main.command()
@click.argument("agency")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--all", "everything", is_flag=True, help="Also closed and re-routed cases."
)
@click.pass_context
def queue(ctx: click.Context, agency: str, as_json: bool, everything: bool) -> None:
    """The cases waiting for AGENCY in its queue (database sink)."""
    from dengar.status_report import agency_queue

    app = open_store(ctx)
    code = agency.upper()
    try:
        app.settings.agency(code)
    except KeyError:
        known = ", ".join(a.code for a in app.settings.agencies)
        err.print(f"unknown agency {agency!r} (known: {known})")
        sys.exit(2)
    with app.sessions() as session:
        items = agency_queue(session, code, everything)
    app.close()
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Queue of {code} ({len(items)})")
    for column in (
        "tracking no",
        "received",
        "category",
        "status",
        "supporters",
        "text",
    ):
        table.add_column(column)
    for item in items:
        text = (item.get("text") or "").replace("\n", " ")
        channels = dict.fromkeys(s["channel"] for s in item["supporter_reports"])
        table.add_row(
            item["tracking_no"],
            _when(item["received_at"], app.settings.timezone),
            item.get("category") or "-",
            item["status"],
            f"{item['supporters']} ({', '.join(channels)})"
            if item["supporters"]
            else "-",
            text[:80] + ("…" if len(text) > 80 else ""),
        )
    console.print(table)


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the configuration and try each enabled channel."""
    settings = settings_from(ctx)
    console.print("Configuration: OK")
    app = open_app(ctx, migrate=False)
    failures = 0

    async def go() -> None:
        nonlocal failures
        from config.channel_settings import ImapChannelSettings
        from dengar.checks import (
            cannot_reply,
            check_reply_side,
            check_sink,
            webform_whatsapp,
        )

        for name, channel in app.channels.items():
            try:
                await channel.check()
                console.print(f"channel {name}: OK")
            except Exception as exc:  # noqa: BLE001 - report every channel
                failures += 1
                console.print(f"channel {name}: [red]{type(exc).__name__}: {exc}[/red]")
            channel_settings = app.settings.channel(name)
            if isinstance(channel_settings, ImapChannelSettings):
                problem = await check_reply_side(channel_settings)
                if problem:
                    failures += 1
                    console.print(f"channel {name}: [red]{escape(problem)}[/red]")
        warnings = list(cannot_reply(app.settings, set(app.repliers())).items())
        warnings += webform_whatsapp(app.settings).items()
        for name, why in warnings:
            console.print(f"channel {name}: [yellow]warning[/yellow]: {escape(why)}")
        for agency_settings in app.settings.agencies:
            problem = await check_sink(agency_settings)
            if problem:
                failures += 1
                console.print(
                    f"agency {agency_settings.code} "
                    f"({agency_settings.sink.type} sink): "
                    f"[red]{escape(problem)}[/red]"
                )
        await app.close()

    import asyncio  # here: its import is slow for --help

    asyncio.run(go())
    disabled = [c.name for c in settings.channels if not c.enabled]
    if disabled:
        console.print(f"disabled (not checked): {', '.join(disabled)}")
    if failures:
        sys.exit(1)
