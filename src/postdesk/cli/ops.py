"""`postdesk inbound list|show|retry` and `postdesk outbox list|retry|release`: what is stuck and why."""

from __future__ import annotations

import sys

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.ops.queues import (
    INBOUND_STATUSES,
    OUTBOX_STATUSES,
    NotRetryable,
    inbound_detail,
    inbound_raw,
    list_inbound,
    list_outbox,
    release_outbox,
    retry_inbound,
    retry_outbox,
)


def _one_line(text: str | None, width: int) -> str:
    return " ".join((text or "").split())[:width]


@click.group("inbound")
def inbound_group() -> None:
    """Received mail waiting for the pipeline, or failed in it."""


@inbound_group.command("list")
@click.option(
    "--status",
    type=click.Choice(INBOUND_STATUSES),
    help="Only rows in this status (default: pending and failed).",
)
@click.option("--limit", type=int, default=None, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def inbound_list(ctx: Context, status: str | None, limit: int | None, as_json: bool) -> None:
    """Received messages the pipeline has not finished, oldest first, with the error of failed ones."""
    with ctx.store().read() as session:
        rows = list_inbound(session, status, limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("nothing " + (status or "pending or failed"))
        return
    click.echo(f"{'ID':>8}  {'STATUS':<7}  {'TRIES':>5}  {'RECEIVED':<19}  {'VIA':<8}  {'FROM':<30}  ERROR")
    for row in rows:
        click.echo(
            f"{row['id']:>8}  {row['status']:<7}  {row['attempts']:>5}  {row['received_at'][:19]:<19}  "
            f"{row['via'][:8]:<8}  {(row['envelope_from'] or '<>')[:30]:<30}  {_one_line(row['error'], 100)}"
        )


@inbound_group.command("show")
@click.argument("inbound_id", type=int)
@click.option("--raw", "as_raw", is_flag=True, help="Print the stored bytes exactly as received.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def inbound_show(ctx: Context, inbound_id: int, as_raw: bool, as_json: bool) -> None:
    """One received message ID: envelope, status, ticket and what parsing it gives (text, files, defects).

    For operators: it shows a customer's whole mail, so never paste it to anyone else.
    """
    if as_raw and as_json:
        fail("give --raw or --json, not both")
    with ctx.store().read() as session:
        if as_raw:
            raw = inbound_raw(session, inbound_id)
        else:
            detail = inbound_detail(session, inbound_id)
    if as_raw:
        if raw is None:
            fail(f"no inbound message {inbound_id}")
        sys.stdout.buffer.write(raw)  # bytes as stored: no decoding, no newline added
        sys.stdout.buffer.flush()
        return
    if detail is None:
        fail(f"no inbound message {inbound_id}")
    if as_json:
        print_json(detail)
        return
    ticket = f"ticket {detail['ticket']} ({detail['kind']})" if detail["ticket"] else "no ticket yet"
    click.echo(f"Inbound {detail['id']}: {detail['status']}, {ticket}")
    click.echo(
        f"  received {detail['received_at']} via {detail['via']}, {detail['size']} bytes, "
        f"envelope <{detail['envelope_from'] or ''}> -> {', '.join(detail['recipients'])}"
    )
    if detail["error"]:
        click.echo(f"  error: {_one_line(detail['error'], 200)}")
    name = f"{detail['from_name']} " if detail["from_name"] else ""
    click.echo(f"From: {name}<{detail['from'] or ''}>")
    click.echo(f"Subject: {detail['subject']}")
    for attachment in detail["attachments"]:
        click.echo(f"  [{attachment['content_type']}] {attachment['filename']} ({attachment['size']} bytes)")
    if detail["defects"]:
        click.echo(f"  defects: {'; '.join(detail['defects'])}")
    click.echo("")
    click.echo(detail["text"])


@inbound_group.command("retry")
@click.argument("inbound_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every failed message.")
@pass_context
def inbound_retry(ctx: Context, inbound_id: int | None, retry_all: bool) -> None:
    """Put failed message ID (or --all failed ones) back in the pipeline's queue."""
    if (inbound_id is None) == (not retry_all):
        fail("give one inbound ID or --all")
    store = ctx.store()
    if inbound_id is None:
        from postdesk.pipeline.worker import retry_failed

        click.echo(f"{retry_failed(store)} message(s) queued again")
        return
    try:
        with store.transaction() as session:
            retry_inbound(session, inbound_id)
    except NotRetryable as error:
        fail(str(error))
    click.echo(f"inbound {inbound_id} queued again")


@click.group("outbox")
def outbox_group() -> None:
    """Outgoing mail waiting to be sent, deferred, failed, or held over a limit."""


@outbox_group.command("list")
@click.option(
    "--status",
    type=click.Choice(OUTBOX_STATUSES),
    help="Only rows in this status (default: all not sent, held ones included).",
)
@click.option("--limit", type=int, default=None, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def outbox_list(ctx: Context, status: str | None, limit: int | None, as_json: bool) -> None:
    """Outgoing mail not sent yet, oldest first: attempts, next try and the last error
    (for held mail: the limit that holds it)."""
    with ctx.store().read() as session:
        rows = list_outbox(session, status, limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("nothing " + (status or "waiting to be sent"))
        return
    click.echo(
        f"{'ID':>8}  {'STATUS':<7}  {'TRIES':>5}  {'NEXT TRY':<19}  {'TICKET':>7}  {'TO':<30}  LAST ERROR"
    )
    for row in rows:
        click.echo(
            f"{row['id']:>8}  {row['status']:<7}  {row['attempts']:>5}  {row['next_attempt_at'][:19]:<19}  "
            f"{row['ticket'] or '-':>7}  {', '.join(row['recipients'])[:30]:<30}  "
            f"{_held(row) or _one_line(row['last_error'], 100)}"
        )


def _held(row: dict[str, object]) -> str:
    return f"held by limit {row['held_by']}" if row["status"] == "held" else ""


@outbox_group.command("retry")
@click.argument("outbox_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every failed mail.")
@pass_context
def outbox_retry(ctx: Context, outbox_id: int | None, retry_all: bool) -> None:
    """Send mail ID (failed, or waiting for its next try) — or --all failed ones — at once.

    The retried mail starts again with [outbound] max_attempts attempts.
    """
    if (outbox_id is None) == (not retry_all):
        fail("give one outbox ID or --all")
    try:
        with ctx.store().transaction() as session:
            count = retry_outbox(session, outbox_id)
    except NotRetryable as error:
        fail(str(error))
    click.echo(f"{count} mail(s) due now")


@outbox_group.command("release")
@click.argument("outbox_id", type=int, required=False)
@click.option("--all", "release_all", is_flag=True, help="Every held mail.")
@pass_context
def outbox_release(ctx: Context, outbox_id: int | None, release_all: bool) -> None:
    """Send mail ID — or --all — held over a limit on automatic mail, at once.

    Held mail is what a limit kept back ([replies] max_acks_*, [agent_mail]
    max_*): the ticket was made, the mail not sent. Released mail counts
    towards the limits from then on.
    """
    if (outbox_id is None) == (not release_all):
        fail("give one outbox ID or --all")
    try:
        with ctx.store().transaction() as session:
            count = release_outbox(session, outbox_id)
    except NotRetryable as error:
        fail(str(error))
    click.echo(f"{count} held mail(s) released, due now")
