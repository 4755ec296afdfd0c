"""What every command shares: the lazily loaded settings and desk, clean
failure, and JSON output. Feature packages define their commands in their
own `commands.py` with these helpers; `postdesk.cli.main` wires them in."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

# Imported where used, not here: every command imports this module, and the
# desk (pipeline, templates, ORM) is a second of start-up that `mailgate`,
# `--help` and the listings do not need (docs/benchmarks.md, "Start-up").
if TYPE_CHECKING:
    from postdesk.config import Settings
    from postdesk.runtime.desk import Desk
    from postdesk.store.session import Store


@dataclass
class Context:
    config_path: Path | None
    log_format: str | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from postdesk.config import ConfigError, load_settings
            from postdesk.runtime.logs import configure_logging

            try:
                self._settings = load_settings(self.config_path, os.environ)
            except ConfigError as error:
                fail(str(error))
            configure_logging(self._settings.log.level, self.log_format or self._settings.log.format)
        return self._settings

    def store(self, *, check_schema: bool = True) -> Store:
        """The store alone, for commands that need no templates or secret (the listings).

        With CHECK_SCHEMA (all but `db` and `imap`), a database behind this
        code's schema is one clear line, not an SQL error halfway through."""
        from postdesk.store.schema import SchemaOutOfDate, require_current
        from postdesk.store.session import StoreFolderMissing, open_store

        try:
            store = open_store(self.settings.store.url)
            if check_schema:
                require_current(store)
        except (SchemaOutOfDate, StoreFolderMissing) as error:
            fail(str(error))
        return store

    def desk(self, *, migrate: bool = False, synchronous: str = "FULL") -> Desk:
        from postdesk.runtime.desk import open_desk
        from postdesk.store.schema import SchemaOutOfDate
        from postdesk.store.session import StoreFolderMissing

        try:
            return open_desk(self.settings, migrate=migrate, synchronous=synchronous)
        except (SchemaOutOfDate, StoreFolderMissing) as error:
            fail(str(error))


# Owner only: the database holds every customer's mail and the reply-token key.
PRIVATE_UMASK = 0o077


def private_files(ctx: click.Context) -> None:
    """Every file and folder this command creates is the desk's own: 0600 and 0700.

    A umask, not a mode at each open: most of the files are created by others
    than our code (SQLite makes the database, and gives its -wal and -shm the
    database file's mode; the mailbox writer, Alembic, a log file), and a
    umask reaches all of them, in the worker and sender children too, which
    inherit it. Every command gets it, not only the ones that mean to write:
    `tickets list` on a fresh install already creates the database file.
    Restored when the command ends, so a caller in the same process (a test
    runner invoking the CLI) keeps its own.
    """
    previous = os.umask(PRIVATE_UMASK)
    ctx.call_on_close(lambda: os.umask(previous))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit with CODE."""
    click.echo(f"postdesk: {message}", err=True)
    sys.exit(code)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


pass_context = click.make_pass_decorator(Context)
