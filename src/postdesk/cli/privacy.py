"""`postdesk contacts export` and `contacts erase`, and `postdesk retention run` (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from postdesk.cli.kit import Context, fail, pass_context


@click.command("export")
@click.argument("email")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The JSON file to write (default: EMAIL.json here); the zip goes beside it.",
)
@pass_context
def contacts_export(ctx: Context, email: str, out: Path | None) -> None:
    """Write everything the desk holds about EMAIL to a JSON file, with its raw mails and files in a zip."""
    from postdesk.privacy.export import export_person, write_export

    if "@" not in email:
        fail(f"not a mail address: {email!r}")
    target = out or Path(f"{email.strip().lower()}.json")
    with ctx.store().read() as session:
        export = export_person(session, email)
    if not export.document["messages"] and export.document["contact"] is None:
        fail(f"the desk holds nothing about {email.strip().lower()}")
    try:
        archive = write_export(export, target)
    except OSError as error:
        fail(f"cannot write the export: {error}")
    click.echo(
        f"{target} and {archive}: {len(export.document['messages'])} messages, {len(export.files)} files"
    )


@click.command("erase")
@click.argument("email")
@click.option("--dry-run", is_flag=True, help="Count what would go, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
def contacts_erase(ctx: Context, email: str, dry_run: bool, as_json: bool) -> None:
    """Erase EMAIL's mail, files, numbers and sole tickets; shared tickets keep the others' mail."""
    import getpass
    from datetime import UTC, datetime

    from postdesk.privacy.erase import erase_person, scrub

    if "@" not in email:
        fail(f"not a mail address: {email!r}")
    store = ctx.store()
    with store.transaction() as session:
        counts = erase_person(
            session, email, ran_by=getpass.getuser(), now=datetime.now(UTC), dry_run=dry_run
        )
    if not dry_run and counts:
        scrub(store)
    _report(counts, dry_run, as_json, done="erased", would="would erase")


@click.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would go, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
def retention_run(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Delete what [retention] keeps no longer: closed tickets, unprocessable spool, raw mail."""
    import getpass
    from datetime import UTC, datetime

    from postdesk.privacy.erase import scrub
    from postdesk.privacy.retention import run_retention

    settings = ctx.settings.retention
    if not settings.enabled:
        fail("[retention] keeps everything: set closed_tickets_days, spool_days or raw_mail_days")
    store = ctx.store()
    with store.transaction() as session:
        counts = run_retention(
            session, settings, now=datetime.now(UTC), ran_by=getpass.getuser(), dry_run=dry_run
        )
    if not dry_run and any(counts.values()):
        scrub(store)
    _report(counts, dry_run, as_json, done="deleted", would="would delete")


@click.group("retention")
def retention_group() -> None:
    """How long the desk keeps mail ([retention] in the config)."""


retention_group.add_command(retention_run)


def _report(counts: dict[str, int], dry_run: bool, as_json: bool, *, done: str, would: str) -> None:
    """The counts of an erasure or a retention run: JSON, or one line."""
    from postdesk.cli.kit import print_json

    if as_json:
        print_json({"dry_run": dry_run, "counts": counts})
        return
    what = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
    click.echo(f"{would if dry_run else done}: {what}")
