"""`postdesk tickets list`, `tickets show` and `tickets attachment`: the tickets as the store has them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.store.models import Ticket, TriageEvent
from postdesk.store.queries import SORTS, STATUSES, list_tickets, ticket_detail
from postdesk.tickets.files import StoredFile, load, pick, safe_filename, ticket_files

# Triage steps that decide a priority; routing and due-time steps are `triage explain`'s.
PRIORITY_STEPS = ("rule", "urgent", "vip", "follow-up")


@click.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only tickets in this status.")
@click.option("--queue", help="Only tickets in this queue.")
@click.option("--level", type=int, help="Only tickets at this support level.")
@click.option("--overdue", is_flag=True, help="Only open tickets past their first-response due time.")
@click.option("--sort", type=click.Choice(SORTS), default="urgency", show_default=True, help="Order.")
@click.option("--limit", type=int, default=None, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def tickets_list(
    ctx: Context,
    status: str | None,
    queue: str | None,
    level: int | None,
    overdue: bool,
    sort: str,
    limit: int | None,
    as_json: bool,
) -> None:
    """Tickets, most urgent first: by priority, then by when the first answer is due.

    Spam is listed only with --status spam."""
    with ctx.store().transaction() as session:
        rows = list_tickets(session, status, limit, queue=queue, level=level, only_overdue=overdue, sort=sort)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no tickets")
        return
    zone = ZoneInfo(ctx.settings.triage.timezone)
    click.echo(
        f"{'NUMBER':>8}  {'PRIO':<6}  {'QUEUE':<10}  LV  {'STATUS':<7}  {'DUE':<17}  {'MSGS':>4}  "
        f"{'CUSTOMER':<30}  SUBJECT"
    )
    for row in rows:
        due = row["first_response_due"]
        due = f"{datetime.fromisoformat(due).astimezone(zone):%m-%d %H:%M}" if due else "-"
        due += " OVERDUE" if row["overdue"] else ""
        click.echo(
            f"{row['number']:>8}  {row['priority']:<6}  {row['queue'][:10]:<10}  {row['level']:>2}  "
            f"{row['status']:<7}  {due:<17}  {row['message_count']:>4}  "
            f"{row['customer'][:30]:<30}  {row['subject'][:60]}"
        )


@click.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def tickets_show(ctx: Context, number: int, as_json: bool) -> None:
    """One ticket with all its messages. NUMBER is the ticket number (= its id)."""
    from postdesk.voicemail.callers import hints_of

    with ctx.store().transaction() as session:
        detail = ticket_detail(session, number, ctx.settings.own_recipients)
        if detail is not None:
            detail["probable_callers"] = [hint.as_dict() for hint in hints_of(session, number)]
            detail["language_reason"] = _language_reason(session, number)
            detail["priority_by"] = _priority_reasons(session, number)
    if detail is None:
        fail(f"no ticket {number}")
    if as_json:
        print_json(detail)
        return
    click.echo(f"Ticket {detail['number']}: {detail['subject']}")
    click.echo(f"  status {detail['status']}, customer {detail['customer']}, opened {detail['created_at']}")
    click.echo(f"  language {detail['language']} ({detail['language_reason'] or 'not recorded'})")
    if detail["spam_reason"]:
        said = "spam" if detail["status"] == "spam" else "released from spam (`tickets not-spam`), was"
        click.echo(f"  {said}: {detail['spam_reason']}")
    if detail["forged_from"]:
        click.echo("  From forged (DMARC failed at the trusted server): no automatic mail goes to it")
    click.echo(f"  priority {detail['priority']}, queue {detail['queue']}")
    for reason in detail["priority_by"]:
        click.echo(f"    {reason['step']} {reason['name']}: {reason['detail']}")
    for caller in detail["probable_callers"]:
        click.echo(
            f"  caller not confirmed: probably {caller['email']}"
            f" (number learned from their signature on {caller['learned_on']})"
        )
    if detail["foreign_recipients"]:
        click.echo(
            f"  delivered for recipients that are not the desk's: {', '.join(detail['foreign_recipients'])}"
            " (see [desk] aliases)"
        )
    for message in detail["messages"]:
        arrow = "<-" if message["direction"] == "in" else "->"
        repeat = " (duplicate, merged by dedupe)" if message.get("duplicate") else ""
        click.echo(f"\n{arrow} {message['kind']}{repeat} from {message['from']} at {message['created_at']}")
        if message["foreign_recipients"]:
            click.echo(f"   for a foreign recipient: {', '.join(message['foreign_recipients'])}")
        click.echo(f"   Subject: {message['subject']}")
        for attachment in message["attachments"]:
            click.echo(
                f"   [{attachment['content_type']}] {attachment['filename']} ({attachment['size']} bytes)"
            )
        if message["defects"]:
            click.echo(f"   defects: {'; '.join(message['defects'])}")
        if message["voicemail"]:
            call = message["voicemail"]
            seconds = call["duration_seconds"]
            length = f", {seconds:.0f} s" if seconds is not None else ""
            click.echo(f"   voicemail from {call['number'] or call['caller'] or 'anonymous'}{length}")
        click.echo("   " + message["text"].strip().replace("\n", "\n   "))


def _priority_reasons(session: Session, number: int) -> list[dict[str, str]]:
    """The triage steps that set or raised the priority (all steps: `triage explain`)."""
    events = session.execute(
        select(TriageEvent.step, TriageEvent.name, TriageEvent.detail)
        .where(TriageEvent.ticket_id == number, TriageEvent.step.in_(PRIORITY_STEPS))
        .order_by(TriageEvent.id)
    ).all()
    return [{"step": step, "name": name, "detail": detail} for step, name, detail in events]


def _language_reason(session: Session, number: int) -> str:
    """Why the ticket is in its language: the newest language decision recorded for it."""
    return (
        session.execute(
            select(TriageEvent.detail)
            .where(TriageEvent.ticket_id == number, TriageEvent.step == "language")
            .order_by(TriageEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        or ""
    )


@click.command("attachment")
@click.argument("number", type=int)
@click.argument("wanted", metavar="[NAME|INDEX]", required=False)
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the files into this folder (made if missing). Without it: list them.",
)
@click.option("--json", "as_json", is_flag=True, help="List as a JSON array.")
@pass_context
def tickets_attachment(
    ctx: Context, number: int, wanted: str | None, folder: Path | None, as_json: bool
) -> None:
    """List or save the files of ticket NUMBER: attachments and voicemail recordings, numbered from 1."""
    with ctx.store().read() as session:
        if session.get(Ticket, number) is None:
            fail(f"no ticket {number}")
        files = ticket_files(session, number)
        if wanted is not None:
            chosen = pick(files, wanted)
            if chosen is None:
                names = ", ".join(f"{f.index} {f.label}" for f in files) or "none"
                fail(f"ticket {number} has no file {wanted!r} (its files: {names})")
            files = [chosen]
        if folder is None:
            rows = [
                {"index": f.index, "name": f.label, "type": f.content_type, "size": f.size} for f in files
            ]
            if as_json:
                print_json(rows)
            elif not rows:
                click.echo(f"ticket {number} has no files")
            for row in [] if as_json else rows:
                click.echo(f"{row['index']:>3}  {row['size']:>10}  {row['type']:<30}  {row['name']}")
            return
        contents = load(session, files)
    folder.mkdir(parents=True, exist_ok=True)
    for file, content in zip(files, contents, strict=True):
        target = _free_name(folder, safe_filename(file))
        # 0600 (the umask of every command): the files are customers' data.
        target.write_bytes(content.data)
        click.echo(f"{file.index}: {target} ({file.size} bytes)")


def _list_files(number: int, files: Sequence[StoredFile], as_json: bool) -> None:
    rows = [{"index": f.index, "name": f.label, "type": f.content_type, "size": f.size} for f in files]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"ticket {number} has no files")
    for row in rows:
        click.echo(f"{row['index']:>3}  {row['size']:>10}  {row['type']:<30}  {row['name']}")


def _free_name(folder: Path, name: str) -> Path:
    """FOLDER/NAME, or with " (2)", " (3)" … before the suffix if taken: nothing is overwritten."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    count = 1
    while target.exists():
        count += 1
        target = folder / f"{stem} ({count}){suffix}"
    return target


@click.command("set-language")
@click.argument("number", type=int)
@click.argument("language")
@pass_context
def tickets_set_language(ctx: Context, number: int, language: str) -> None:
    """Answer ticket NUMBER in LANGUAGE from now on (any language the desk has templates for)."""
    import getpass
    from datetime import UTC

    from postdesk.templates.render import MailTemplates

    settings = ctx.settings
    override = Path(settings.templates.path) if settings.templates.path else None
    languages = MailTemplates(override).languages_of("acknowledgement")
    if language not in languages:
        fail(f"no templates in {language!r}: the desk answers in {', '.join(languages)}")
    with ctx.store().transaction() as session:
        ticket = session.get(Ticket, number)
        if ticket is None:
            fail(f"no ticket {number}")
        before, ticket.language = ticket.language, language
        now = datetime.now(UTC)
        ticket.updated_at = now
        who = f"set by {getpass.getuser()} (tickets set-language), was {before}"
        session.add(TriageEvent(ticket_id=number, created_at=now, step="language", name=language, detail=who))
    click.echo(f"ticket {number}: language {before} → {language}")
