"""``dengar serve``, ``dengar user add`` and ``dengar agency key``: the web
application's commands (registered by ``dengar.cli``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dengar.app import App


def _open(ctx: click.Context) -> App:
    from dengar.cli import open_app

    return open_app(ctx)


def _close(app: App) -> None:
    asyncio.run(app.close())


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host).")
@click.option("--port", type=int, default=None, help="Port (default: web.port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the staff dashboard and the agency API (until SIGINT/SIGTERM)."""
    app = _open(ctx)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve_beside(app, stop.wait(), host=host, port=port)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await app.close()

    asyncio.run(go())


async def serve_beside(
    app: App, work: Awaitable[Any], host: str | None = None, port: int | None = None
) -> Any:
    """Serve the web application while ``work`` (the runner, or a wait for a
    signal) runs in the same event loop; stop serving when it ends. Used by
    ``dengar serve`` and ``dengar run --web``."""
    import uvicorn

    from dengar.web.app import create_app

    class Server(uvicorn.Server):
        # the caller owns SIGINT/SIGTERM: uvicorn's own handlers would replace
        # the runner's and re-raise the signal at exit
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    web = app.settings.web
    config = uvicorn.Config(
        create_app(app),
        host=host or web.host,
        port=port or web.port,
        log_level="info",
        proxy_headers=False,
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    try:
        return await work
    finally:
        server.should_exit = True
        await task


@click.group()
def user() -> None:
    """Dashboard accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "staff", "agency"]), required=True)
@click.option("--agency", "agency_code", default=None, help="For --role agency.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts).",
)
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    role: str,
    agency_code: str | None,
    password_stdin: bool,
) -> None:
    """Create an account NAME, or set its password and role if it exists."""
    from dengar.web.auth import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
    app = _open(ctx)
    known = frozenset(a.code for a in app.settings.agencies)
    try:
        with app.sessions() as session:
            account = add_user(session, name, password, role, agency_code, known)
            session.commit()
            summary = f"user {account.name}: {account.role}"
            if account.agency_code:
                summary += f" of {account.agency_code}"
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        _close(app)
    click.echo(summary)


@click.group()
def agency() -> None:
    """Agency API access."""


@agency.command("key")
@click.argument("code")
@click.pass_context
def key(ctx: click.Context, code: str) -> None:
    """Create or rotate agency CODE's API key and print it (only this once:
    only its hash is kept; the previous key stops working)."""
    from dengar.web.auth import rotate_api_key

    app = _open(ctx)
    code = code.upper()
    try:
        known = [a.code for a in app.settings.agencies]
        if code not in known:
            click.echo(
                f"error: unknown agency {code!r} (known: {', '.join(known)})", err=True
            )
            sys.exit(2)
        with app.sessions() as session:
            secret = rotate_api_key(session, code)
            session.commit()
    finally:
        _close(app)
    click.echo(secret)
    click.echo(
        f"API key of {code}: send it as header X-API-Key; it is not shown again.",
        err=True,
    )
