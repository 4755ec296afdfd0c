"""The `postdesk` command: one group, one sub-command per job."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from postdesk import __version__
from postdesk.cli import dedupe as dedupe_commands
from postdesk.cli import imap as imap_commands
from postdesk.cli import ops as ops_commands
from postdesk.cli import templates as template_commands
from postdesk.cli import triage as triage_commands
from postdesk.cli import voicemail as voicemail_commands
from postdesk.cli.faq import faq_group
from postdesk.cli.kit import Context, fail, pass_context, print_json, private_files
from postdesk.core.recipients import foreign
from postdesk.receive import mailgate as gate
from postdesk.store.migrate import (
    SchemaOutOfDate,
    current_revisions,
    head_revisions,
    require_current,
    upgrade,
)
from postdesk.store.queries import SORTS, STATUSES, list_tickets, ticket_detail
from postdesk.store.session import Store, open_store

# Options of the whole desk, taken wherever they stand: `postdesk tickets list --config x.toml`
# is what people type, and no sub-command has options of these names.
DESK_OPTIONS = ("--config", "--log-format")


def desk_options_first(args: list[str]) -> list[str]:
    """ARGS with the desk's options (and their values) moved before the sub-command."""
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest += args[position:]
            break
        if arg in DESK_OPTIONS and position + 1 < len(args):
            front += args[position : position + 2]
            position += 2
            continue
        if arg.split("=", 1)[0] in DESK_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        position += 1
    return front + rest


class DeskGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, desk_options_first(args))


@click.group(cls=DeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="POSTDESK_CONFIG",
    help="TOML config file (env POSTDESK_CONFIG). Without one, embedded defaults apply.",
)
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Override [log] format.")
@click.version_option(__version__, prog_name="postdesk")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_format: str | None) -> None:
    """postdesk: a support mailbox turned into a ticket desk.

    Mail comes in over SMTP/LMTP or a mail server's pipe (mailgate), is stored
    durably, becomes a ticket or a follow-up on one, and the customer gets an
    acknowledgement by mail.
    """
    ctx.obj = Context(config_path=config_path, log_format=log_format)
    private_files(ctx)


@main.command()
@click.option("--no-process", is_flag=True, help="Do not run the pipeline worker (listeners only).")
@click.option("--no-send", is_flag=True, help="Do not deliver outgoing mail in this process.")
@click.option(
    "--metrics",
    "metrics_listen",
    metavar="HOST:PORT",
    help="Serve Prometheus /metrics and /healthz here (overrides [metrics] listen).",
)
@pass_context
def serve(ctx: Context, no_process: bool, no_send: bool, metrics_listen: str | None) -> None:
    """Run the listeners, the pipeline worker and the sender in one process.

    Migrates the database first when [store] auto_migrate is true (the default).
    Stop with Ctrl-C or SIGTERM: listeners stop accepting, received mail is
    committed, the worker finishes its message, then all exit.
    """
    from postdesk.config.model import parse_listen
    from postdesk.runtime.serve import ListenError
    from postdesk.runtime.serve import serve as run

    if metrics_listen:
        try:
            parse_listen(metrics_listen)
        except ValueError as error:
            fail(f"--metrics {metrics_listen}: {error}")
    from postdesk.runtime.files import warn_if_exposed

    desk = ctx.desk(migrate=ctx.settings.store.auto_migrate)
    warn_if_exposed(desk.settings.store.url, ctx.config_path)
    try:
        run(
            desk,
            process=not no_process,
            send=not no_send,
            log_format=ctx.log_format,
            metrics_listen=metrics_listen,
        )
    except ListenError as error:
        fail(str(error))


@main.command()
@click.option("--sender", help="Envelope sender (Postfix: ${sender}). Empty for the null sender.")
@click.option("--recipient", "recipients", multiple=True, help="Envelope recipient; repeat for several.")
@pass_context
def mailgate(ctx: Context, sender: str | None, recipients: tuple[str, ...]) -> None:
    """Store one RFC 822 message from standard input (a mail server's pipe hook).

    Exit 0 when stored, 75 when the store is unavailable (the mail server
    retries), 65 when the message is refused for good (reason on stderr).
    """
    try:
        settings = ctx.settings
    except SystemExit:
        sys.exit(gate.EX_TEMPFAIL)  # a config mistake must not bounce customers' mail
    try:
        raw = gate.read_message(sys.stdin.buffer, settings.ingest.smtp.max_message_bytes)
    except gate.Refused as error:
        fail(str(error), gate.EX_DATAERR)
    try:
        store = open_store(settings.store.url)
    except Exception as error:  # e.g. the database folder cannot be created
        fail(f"message not stored, try again later: {error}", gate.EX_TEMPFAIL)
    try:
        inbound_id = gate.deliver(store, raw, sender, recipients)
    except gate.StoreUnavailable as error:
        fail(f"message not stored, try again later: {error}{_schema_hint(store)}", gate.EX_TEMPFAIL)
    finally:
        store.dispose()
    # The mail server routed it here, so it is stored all the same; `tickets show` names them.
    strangers = foreign(recipients, settings.own_recipients)
    note = f" (not the desk's: {', '.join(strangers)}; see [desk] aliases)" if strangers else ""
    click.echo(f"stored as inbound {inbound_id}{note}", err=True)


def _schema_hint(store: Store) -> str:
    """Why a write may have failed, when the reason is a missing migration."""
    try:
        require_current(store)
    except SchemaOutOfDate as schema:
        return f" ({schema})"
    except Exception:  # the store itself is down; the write error already says so
        return ""
    return ""


@main.command()
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
@click.option(
    "--retry-failed", "requeue_failed", is_flag=True, help="Put failed messages back in the queue first."
)
@pass_context
def process(ctx: Context, once: bool, requeue_failed: bool) -> None:
    """Run the pipeline over received mail (without listening)."""
    desk = ctx.desk(synchronous="NORMAL")  # derived from the durable spool
    if requeue_failed:
        from postdesk.pipeline.worker import retry_failed

        click.echo(f"{retry_failed(desk.store)} failed message(s) queued again", err=True)
    processor = desk.processor()
    total = 0
    while True:
        count = processor.process_pending(limit=500)
        total += count
        if count:
            click.echo(f"processed {total}", err=True)
        elif once:
            break
        else:
            time.sleep(desk.settings.pipeline.poll_seconds)
    click.echo(f"done: {total} message(s) processed", err=True)


@main.command("send")
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@pass_context
def send(ctx: Context, once: bool) -> None:
    """Deliver queued outgoing mail (maildir or SMTP relay)."""
    desk = ctx.desk(synchronous="NORMAL")  # derived from the durable spool
    sender = desk.sender()
    while True:
        sent, troubled = sender.send_due()
        if once and not (sent or troubled):
            break
        if not (sent or troubled):
            time.sleep(desk.settings.pipeline.poll_seconds)
    click.echo("outbox: nothing more due", err=True)


@main.group()
def tickets() -> None:
    """List and show tickets."""


@tickets.command("list")
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
    """Tickets, most urgent first: by priority, then by when the first answer is due."""
    with ctx.desk().store.transaction() as session:
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


@tickets.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def tickets_show(ctx: Context, number: int, as_json: bool) -> None:
    """One ticket with all its messages. NUMBER is the ticket number (= its id)."""
    from postdesk.voicemail.callers import hints_of

    with ctx.desk().store.transaction() as session:
        detail = ticket_detail(session, number, ctx.settings.own_recipients)
        if detail is not None:
            detail["probable_callers"] = [hint.as_dict() for hint in hints_of(session, number)]
    if detail is None:
        fail(f"no ticket {number}")
    if as_json:
        print_json(detail)
        return
    click.echo(f"Ticket {detail['number']}: {detail['subject']}")
    click.echo(f"  status {detail['status']}, customer {detail['customer']}, opened {detail['created_at']}")
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


tickets.add_command(voicemail_commands.tickets_callbacks)
tickets.add_command(voicemail_commands.tickets_called)
main.add_command(voicemail_commands.contacts)
main.add_command(voicemail_commands.voicemail)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to this version of postdesk."""
    store = ctx.store()
    upgrade(store)
    click.echo(f"database at {', '.join(sorted(current_revisions(store)))}")


@db.command("status")
@pass_context
def db_status(ctx: Context) -> None:
    """Show the schema version and whether it is current."""
    store = ctx.store()
    current, heads = current_revisions(store), head_revisions()
    click.echo(f"database: {', '.join(sorted(current)) or 'empty'}; code: {', '.join(sorted(heads))}")
    if current != heads:
        fail("out of date: run 'postdesk db upgrade'")


main.add_command(triage_commands.triage_group)
main.add_command(triage_commands.features_group)
for command in triage_commands.contacts_group.commands.values():
    voicemail_commands.contacts.add_command(command)
main.add_command(triage_commands.stats)
main.add_command(faq_group)
tickets.add_command(triage_commands.tickets_escalate)
tickets.add_command(triage_commands.tickets_mark_feature)
main.add_command(dedupe_commands.dedupe_group)
main.add_command(dedupe_commands.clusters_group)
tickets.add_command(dedupe_commands.tickets_unmerge)
main.add_command(imap_commands.imap_group)
main.add_command(ops_commands.inbound_group)
main.add_command(ops_commands.outbox_group)
main.add_command(template_commands.templates_group)
