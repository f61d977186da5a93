"""``dengar sink try``: render (and send) one request of an ``http`` sink,
for setting an agency's system up."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from config.redaction import MASKER

# the rest when the command runs: `dengar sink --help` opens nothing
if TYPE_CHECKING:
    from config.settings import Settings
    from dengar.app import App
    from dispatcher.sinks.base import Delivery
    from dispatcher.sinks.http import HttpSink, Prepared

ANSWER_SHOWN = 4000  # characters of the answer printed


@click.group()
def sink() -> None:
    """Agency sinks: try an http sink's request."""


@sink.command("try")
@click.argument("agency")
@click.option(
    "--case", "number", help="Tracking number (default: the agency's newest)."
)
@click.option("--send", is_flag=True, help="Send the request and print the answer.")
@click.pass_context
def try_(ctx: click.Context, agency: str, number: str | None, send: bool) -> None:
    """Render AGENCY's http request for a case; with --send, send it.

    Credentials are masked in what is printed. Sending delivers the case
    for real (with its usual idempotency key, so the outbox's own delivery
    of it is a replay the agency's system should recognise).
    """
    from dengar.cli.common import err, open_app
    from dispatcher.sinks.http import RequestProblem

    app = open_app(ctx)
    try:
        code = agency.upper()
        http = _http_sink(app, code)
        delivery = _delivery(app, code, number)
        try:
            prepared = http.prepare(delivery)
        except RequestProblem as exc:
            err.print(f"Cannot build the request: {exc}", highlight=False, markup=False)
            sys.exit(1)
        click.echo(f"# case {delivery.message['tracking_no']}")
        click.echo(_shown(prepared))
        if send:
            outcome, ok = asyncio.run(_send(http, delivery, prepared))
            _audit(app, delivery, outcome)
            if not ok:
                sys.exit(1)
    finally:
        asyncio.run(app.close())


def _http_sink(app: App, code: str) -> HttpSink:
    from dengar.cli.common import err
    from dispatcher.sinks.http import HttpSink

    settings: Settings = app.settings
    try:
        settings.agency(code)
    except KeyError:
        known = ", ".join(a.code for a in settings.agencies)
        err.print(f"No agency {code} (known: {known})", highlight=False, markup=False)
        sys.exit(2)
    found = app.sinks[code]
    if not isinstance(found, HttpSink):
        kind = settings.agency(code).sink.type
        err.print(
            f"Agency {code} delivers through a {kind} sink; "
            "'sink try' is for http sinks",
            highlight=False,
            markup=False,
        )
        sys.exit(2)
    return found


def _delivery(app: App, code: str, number: str | None) -> Delivery:
    from sqlmodel import col, select

    from contracts.tracking import canonical
    from dengar.cli.common import err
    from dispatcher.message import build_message, idempotency_key
    from dispatcher.sinks.base import Delivery
    from storage.tables import ComplaintRow

    agency = app.settings.agency(code)
    with app.sessions() as session:
        query = select(ComplaintRow).where(ComplaintRow.kind == "case")
        if number is not None:
            wanted = canonical(number, app.settings.tracking_prefix) or number
            query = query.where(ComplaintRow.tracking_no == wanted)
        else:
            query = query.where(ComplaintRow.agency_code == code).order_by(
                col(ComplaintRow.received_at).desc()
            )
        case = session.exec(query.limit(1)).first()
        if case is None:
            what = f"no case {number}" if number else f"no case of {code} yet"
            err.print(f"{what}; pass --case", highlight=False, markup=False)
            sys.exit(2)
        message = build_message(session, case, code, agency.name)
    key = idempotency_key(case, code)
    message["idempotency_key"] = key
    return Delivery(idempotency_key=key, agency_code=code, message=message)


def _shown(prepared: Prepared) -> str:
    lines = [f"{prepared.method} {prepared.url}"]
    lines += [f"{name}: {value}" for name, value in prepared.shown_headers().items()]
    if prepared.body is not None:
        lines += ["", prepared.body.decode("utf-8", "replace")]
    return MASKER.mask("\n".join(lines))


async def _send(
    http: HttpSink, delivery: Delivery, prepared: Prepared
) -> tuple[str, bool]:
    """Send and print the answer; what the audit log says of it, and whether
    the agency's system took it."""
    from contracts.errors import DeliveryError

    try:
        answer = await http.send(prepared)
    except DeliveryError as exc:
        click.echo(f"\n# no answer: {MASKER.mask(str(exc))}")
        return "tidak ada jawaban dari sistem instansi", False
    finally:
        await http.close()
    click.echo(f"\n# answer: HTTP {answer.status}")
    click.echo(MASKER.mask(answer.text[:ANSWER_SHOWN]))
    if not answer.ok:
        return f"ditolak: HTTP {answer.status}", False
    remote = http.remote_id(delivery, answer)
    click.echo(f"# remote id: {remote or '(none found)'}")
    return f"diterima: HTTP {answer.status}" + (
        f", nomor tiket {remote}" if remote else ""
    ), True


def _audit(app: App, delivery: Delivery, outcome: str) -> None:
    """A case really sent from the command line is a staff action: admins
    read who sent which case to which agency, and how it was answered."""
    from dengar import audit

    with app.sessions() as session:
        audit.record(
            session,
            audit.cli_actor(),
            "sink_try",
            str(delivery.message["tracking_no"]),
            f"ke {delivery.agency_code}: {outcome}",
        )
        session.commit()
