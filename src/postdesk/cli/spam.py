"""The spam commands: `tickets not-spam`, `tickets purge`, `senders block|unblock|list` (docs/spam.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.core.hours import parse_duration
from postdesk.spam.purge import purge_spam
from postdesk.spam.senders import PatternError, block, blocked_senders, normal_pattern, unblock
from postdesk.store.queries import SPAM


@click.command("not-spam")
@click.argument("number", type=int)
@pass_context
def tickets_not_spam(ctx: Context, number: int) -> None:
    """Release spam ticket NUMBER: it joins its queue, and the customer gets the acknowledgement it missed."""
    # The pipeline's own stages do the release: imported here, not for `senders list`.
    from postdesk.pipeline.env import StageEnv
    from postdesk.pipeline.release import ReleaseError, release
    from postdesk.templates.render import TemplateMissing

    desk = ctx.desk()
    with desk.store.transaction() as session:
        env = StageEnv(session, desk.settings, datetime.now(UTC), desk.secret, desk.templates)
        try:
            work = release(number, env)
        except (ReleaseError, TemplateMissing) as error:
            fail(str(error))
    for note in work.notes:
        click.echo(note)


@click.command("purge")
@click.option(
    "--status", type=click.Choice([SPAM]), required=True, help="Which tickets (only spam is purged)."
)
@click.option(
    "--older-than", "older_than", required=True, metavar="DURATION", help="Opened longer ago, e.g. 30d."
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted, delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as a JSON object.")
@pass_context
def tickets_purge(ctx: Context, status: str, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Delete old spam tickets for good, with their mail and every row that refers to them."""
    try:
        age = parse_duration(older_than)
    except ValueError as error:
        fail(f"--older-than: {error}")
    desk = ctx.desk()
    with desk.store.transaction() as session:
        counts = purge_spam(session, datetime.now(UTC) - age, dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, "status": status, "older_than": older_than, "deleted": counts})
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {counts['tickets']} {status} tickets older than {older_than}")
    for table, count in counts.items():
        if table != "tickets" and count:
            click.echo(f"  {table}: {count}")


@click.group("senders")
def senders_group() -> None:
    """Blocked senders: their mail is filed as spam, silently."""


@senders_group.command("block")
@click.argument("patterns", nargs=-1, required=True, metavar="ADDR|@DOMAIN...")
@pass_context
def senders_block(ctx: Context, patterns: tuple[str, ...]) -> None:
    """Block addresses (bob@example.com, covering bob+x@ too) or domains (@example.com and subdomains)."""
    normal = _patterns(patterns)
    with ctx.store().transaction() as session:
        for pattern in normal:
            added = block(session, pattern, datetime.now(UTC))
            click.echo(f"blocked {pattern}" if added else f"{pattern} was blocked already")


@senders_group.command("unblock")
@click.argument("patterns", nargs=-1, required=True, metavar="ADDR|@DOMAIN...")
@pass_context
def senders_unblock(ctx: Context, patterns: tuple[str, ...]) -> None:
    """Let their mail in again (mail filed as spam meanwhile stays spam: see `tickets not-spam`)."""
    normal = _patterns(patterns)
    missing = []
    with ctx.store().transaction() as session:
        for pattern in normal:
            if unblock(session, pattern):
                click.echo(f"unblocked {pattern}")
            else:
                missing.append(pattern)
    if missing:
        fail(f"not blocked: {', '.join(missing)}")


@senders_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def senders_list(ctx: Context, as_json: bool) -> None:
    """The blocked addresses and domains."""
    with ctx.store().read() as session:
        rows = blocked_senders(session)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no blocked senders")
    for row in rows:
        click.echo(f"{row['pattern']:<40}  {row['kind']:<7}  since {row['created_at']}")


def _patterns(patterns: tuple[str, ...]) -> list[str]:
    try:
        return [normal_pattern(pattern) for pattern in patterns]
    except PatternError as error:
        fail(str(error))
