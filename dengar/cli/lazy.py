"""A click group whose commands are imported when they run, not at start.

Every command module pulls in half of Dengar (SQLAlchemy, the pipeline,
numpy for dedupe): importing them all made ``dengar --help`` take seconds.
Here each lazy command is a ``"module:attribute"`` with its one-line help, so
``--help`` lists them without importing any (bench/cli.py measures it).
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group with commands added eagerly (``add_command``) or lazily
    (``lazy``: name -> ("module:attribute", short help))."""

    def __init__(
        self,
        *args: object,
        lazy: dict[str, tuple[str, str]] | None = None,
        **kw: object,
    ) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eager and lazy commands, in name order."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time it is asked for."""
        if cmd_name in self.lazy and cmd_name not in self.commands:
            target, _ = self.lazy[cmd_name]
            module, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        """The command list of ``--help``, without importing lazy commands."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][1]))
                continue
            command = self.commands.get(name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(formatter.width - 6)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
