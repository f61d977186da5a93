"""``dengar serve``, ``dengar user add`` and ``dengar agency key``: the web
application's commands (registered by ``dengar.cli.main``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

import click

from config.localtime import CLI_FORMAT, local_time

if TYPE_CHECKING:
    from sqlmodel import Session

    from dengar.app import App
    from storage.tables import WebUser


def _open(ctx: click.Context) -> App:
    from dengar.cli.common import open_app

    return open_app(ctx)


def _close(app: App) -> None:
    asyncio.run(app.close())


def _actor() -> str:
    from dengar.audit import cli_actor

    return cli_actor()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(
        click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    )


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
    from dengar.web.auth import add_user

    password = _read_password(password_stdin)

    def change(app: App, session: Session) -> WebUser:
        known = frozenset(a.code for a in app.settings.agencies)
        return add_user(session, name, password, role, agency_code, known)

    def said(account: WebUser) -> str:
        of = f" of {account.agency_code}" if account.agency_code else ""
        return f"user {account.name}: {account.role}{of}"

    _change_account(ctx, "user_add", change, said)


PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts).",
)


@user.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the accounts: name, role, agency, active, last login."""
    from dengar.web.auth import list_users

    app = _open(ctx)
    try:
        with app.sessions() as session:
            rows = [
                (
                    u.name,
                    u.role,
                    u.agency_code or "-",
                    "active" if u.active else "disabled",
                    local_time(
                        u.last_login_at,
                        app.settings.timezone,
                        CLI_FORMAT,
                        empty="never",
                    ),
                )
                for u in list_users(session)
            ]
    finally:
        _close(app)
    if not rows:
        click.echo("no accounts (dengar user add NAME --role admin)")
    widths = [max(len(r[i]) for r in rows) for i in range(4)] if rows else []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        click.echo("  ".join([*cells, f"last login {row[4]}"]))


def _change_account(
    ctx: click.Context,
    action: str,
    change: Callable[[App, Session], WebUser],
    said: Callable[[WebUser], str],
) -> None:
    """Make one account change, audited in its transaction; print what
    ``said`` makes of the account, or the refusal (exit 2)."""
    from dengar.web.auth import AccountError, audit_account_change

    app = _open(ctx)
    try:
        with app.sessions() as session:
            account = change(app, session)
            audit_account_change(session, _actor(), action, account)
            message = said(account)
            session.commit()
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        _close(app)
    click.echo(message)


@user.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Disable account NAME: it cannot log in, and its open sessions end now."""
    from dengar.web.auth import set_active

    _change_account(
        ctx,
        "user_disable",
        lambda _app, s: set_active(s, name, False),
        lambda account: f"user {account.name} disabled; its sessions have ended",
    )


@user.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Allow a disabled account NAME to log in again."""
    from dengar.web.auth import set_active

    _change_account(
        ctx,
        "user_enable",
        lambda _app, s: set_active(s, name, True),
        lambda account: f"user {account.name} enabled",
    )


@user.command("reset-password")
@click.argument("name")
@PASSWORD_STDIN
@click.pass_context
def reset_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Give account NAME a new password; its open sessions end now."""
    from dengar.web.auth import set_password

    password = _read_password(password_stdin)
    _change_account(
        ctx,
        "user_password",
        lambda _app, s: set_password(s, name, password),
        lambda account: f"password of {account.name} changed; its sessions have ended",
    )


@click.group()
def agency() -> None:
    """Agency API access."""


@agency.command("key")
@click.argument("code")
@click.option(
    "--revoke", is_flag=True, help="Delete the key: it stops working at once."
)
@click.pass_context
def key(ctx: click.Context, code: str, revoke: bool) -> None:
    """Create or rotate agency CODE's API key and print it (only this once:
    only its hash is kept; the previous key stops working); with --revoke,
    delete it."""
    from dengar import audit
    from dengar.web.auth import revoke_api_key, rotate_api_key

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
            if revoke:
                had = revoke_api_key(session, code)
                if had:
                    audit.record(session, _actor(), "key_revoke", code)
                session.commit()
            else:
                secret = rotate_api_key(session, code)
                audit.record(session, _actor(), "key_rotate", code)
                session.commit()
    finally:
        _close(app)
    if revoke:
        click.echo(
            f"API key of {code} revoked" if had else f"{code} had no API key",
        )
        return
    click.echo(secret)
    click.echo(
        f"API key of {code}: send it as header X-API-Key; it is not shown again.",
        err=True,
    )
