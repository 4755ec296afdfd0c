"""`postdesk db upgrade` and `db status`: the database schema."""

from __future__ import annotations

import click

from postdesk.cli.kit import Context, fail, pass_context
from postdesk.store.migrate import current_revisions, head_revisions, upgrade


@click.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to this version of postdesk."""
    store = ctx.store(check_schema=False)
    upgrade(store)
    click.echo(f"database at {', '.join(sorted(current_revisions(store)))}")


@click.command("status")
@pass_context
def db_status(ctx: Context) -> None:
    """Show the schema version and whether it is current."""
    store = ctx.store(check_schema=False)
    current, heads = current_revisions(store), head_revisions()
    click.echo(f"database: {', '.join(sorted(current)) or 'empty'}; code: {', '.join(sorted(heads))}")
    if current != heads:
        fail("out of date: run 'postdesk db upgrade'")
