"""Command groups whose sub-commands are imported when they run, not when `postdesk` starts.

The mail server starts `postdesk mailgate` once per mail, and a monitoring
script runs `inbound list --json` every few seconds: importing every feature
(the pipeline, numpy, the ORM, the templates) to run one of them cost a
second per start. A `LazyGroup` knows each sub-command by its name, where it
is defined and its one-line help, so `postdesk --help` lists them all without
importing one, and running a command imports its module alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True, slots=True)
class Lazy:
    """A sub-command defined elsewhere: "module:attribute", and the line `--help` shows for it.

    The line is the command's own short help (the first sentence of its
    docstring); tests/test_startup.py checks that the two stay the same."""

    target: str
    summary: str

    def load(self) -> click.Command:
        module_name, attribute = self.target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(click.Group):
    """A click group whose sub-commands are `Lazy` entries (and any added the usual way)."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, Lazy] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is not None:
            return entry.load()
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their lines, as click prints them, without importing the lazy ones."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            entry = self.lazy.get(name)
            if entry is not None:
                rows.append((name, click.Command(name, help=entry.summary).get_short_help_str(limit)))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
