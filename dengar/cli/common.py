"""What every ``dengar`` command shares: the consoles, and opening the
installation the configuration describes (exit 2 on a configuration error,
1 when the database cannot be opened), with the reason and no trace back."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from config.settings import Settings
    from dengar.app import App
    from dengar.store import Store

# wide enough for the summary tables when output is not a terminal (CI logs)
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def settings_from(ctx: click.Context) -> Settings:
    """Load the configuration or exit 2 listing every problem."""
    from config.loader import ConfigError, load_settings

    try:
        return load_settings(ctx.obj.get("config_path"))
    except ConfigError as exc:
        err.print(
            f"[red]Configuration error[/red] in {escape(str(exc))}",
            markup=True,
            highlight=False,
        )
        sys.exit(2)


def open_app(ctx: click.Context, *, migrate: bool = True) -> App:
    """Open the installation described by the configuration."""
    from dengar.app import App, ChannelSetupError

    settings = settings_from(ctx)
    try:
        return App.open(settings, migrate=migrate)
    except ChannelSetupError as exc:
        err.print(f"[red]Cannot start[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - report, do not trace back
        from storage.engine import safe_url

        err.print(
            f"[red]Cannot open Dengar[/red] ({safe_url(settings.database_url)}): "
            f"{type(exc).__name__}: {exc}",
            highlight=False,
        )
        sys.exit(1)


def open_store(ctx: click.Context) -> Store:
    """The database alone (no channels or sinks), for commands that read it."""
    from dengar.store import Store

    settings = settings_from(ctx)
    try:
        return Store.open(settings)
    except Exception as exc:  # noqa: BLE001 - report, do not trace back
        from storage.engine import safe_url

        err.print(
            f"[red]Cannot open the database[/red] ({safe_url(settings.database_url)}): "
            f"{type(exc).__name__}: {exc}",
            highlight=False,
        )
        sys.exit(1)
