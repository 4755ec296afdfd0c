"""`postdesk imap check NAME` and `postdesk imap status`: is a mailbox reachable,
and how far has `serve` read each one (docs/imap.md)."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.config.model import ImapMailboxSettings
from postdesk.receive.imap.client import (
    Capabilities,
    ImapProblem,
    close,
    connect,
    describe,
    folder_exists,
    select,
)
from postdesk.receive.imap.mailbox import resume_after, waiting_uids
from postdesk.receive.imap.state import MailboxState, all_states, load_state

CHECK_READ_TIMEOUT_SECONDS = 30.0


@click.group("imap")
def imap_group() -> None:
    """IMAP mailboxes that `serve` reads ([[ingest.imap]] in the config)."""


@imap_group.command("check")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def imap_check(ctx: Context, name: str, as_json: bool) -> None:
    """Connect to mailbox NAME, log in and look at its folders; changes nothing.

    Prints the server's capabilities, how postdesk will move stored mail
    and wait for new mail, and how many messages wait to be imported. Exits
    1 with one line saying what is wrong (connection, TLS, password, folder).
    """
    mailbox = ctx.settings.ingest.imap_mailbox(name)
    if mailbox is None:
        configured = ", ".join(m.name for m in ctx.settings.ingest.imap) or "none"
        fail(f"no [[ingest.imap]] mailbox named {name!r} (configured: {configured})")
    try:
        client = connect(mailbox, read_timeout=CHECK_READ_TIMEOUT_SECONDS)
    except ImapProblem as problem:
        fail(f"imap {name}: {problem}")
    try:
        report = _inspect(client, mailbox, _state(ctx, name))
    except Exception as error:  # ImapProblem, or the connection failing midway
        fail(f"imap {name}: {describe(error)}")
    finally:
        close(client)
    if as_json:
        print_json(report)
        return
    click.echo(
        f"imap {name}: connected to {mailbox.host}:{mailbox.effective_port} ({mailbox.security}), "
        f"logged in as {mailbox.user}"
    )
    click.echo(f"capabilities: {' '.join(report['capabilities'])}")
    click.echo(f"moves stored mail by: {report['moves_by']}")
    click.echo(f"waits for new mail by: {report['waits_by']}")
    click.echo(f"folder {mailbox.folder!r}: {report['messages']} message(s), {report['waiting']} waiting")
    for role in ("processed_folder", "refused_folder"):
        folder = report[role]
        if folder["name"]:
            state = "exists" if folder["exists"] else "missing, created on first use"
            click.echo(f"{role.replace('_', ' ')} {folder['name']!r}: {state}")


def _inspect(client: Any, mailbox: ImapMailboxSettings, state: MailboxState | None) -> dict[str, Any]:
    caps = Capabilities.of(client)
    selected = select(client, mailbox.folder, readonly=True)
    waiting = waiting_uids(client, mailbox, resume_after(mailbox, state, selected.uidvalidity))
    if not mailbox.processed_folder:
        moves_by = "none: stored mail stays and is flagged \\Seen (processed_folder is not set)"
    elif caps.move:
        moves_by = "MOVE"
    elif caps.uidplus:
        moves_by = "COPY + \\Deleted + UID EXPUNGE (the server has no MOVE)"
    else:
        moves_by = "COPY + \\Deleted, expunged by the server later (the server has neither MOVE nor UIDPLUS)"
    waits_by = "IDLE" if caps.idle else f"polling every {mailbox.poll_seconds:g} s (the server has no IDLE)"
    return {
        "name": mailbox.name,
        "capabilities": list(caps.all),
        "move": caps.move,
        "uidplus": caps.uidplus,
        "idle": caps.idle,
        "moves_by": moves_by,
        "waits_by": waits_by,
        "folder": mailbox.folder,
        "uidvalidity": selected.uidvalidity,
        "messages": selected.exists,
        "waiting": len(waiting),
        "processed_folder": _folder(client, mailbox.processed_folder),
        "refused_folder": _folder(client, mailbox.refused_folder),
    }


def _folder(client: Any, name: str) -> dict[str, Any]:
    return {"name": name, "exists": bool(name) and folder_exists(client, name)}


def _state(ctx: Context, name: str) -> MailboxState | None:
    """The stored state, if the database has one; check also works before the first `serve`."""
    store = ctx.store(check_schema=False)
    try:
        return load_state(store, name)
    except SQLAlchemyError:  # no database or no schema yet: every message waits
        return None
    finally:
        store.dispose()


@imap_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def imap_status(ctx: Context, as_json: bool) -> None:
    """How far each mailbox has been read: UIDVALIDITY, last UID, counts. No connection is made."""
    desk = ctx.desk()
    states = {state.name: state for state in all_states(desk.store)}
    desk.store.dispose()
    configured = [mailbox.name for mailbox in ctx.settings.ingest.imap]
    rows = []
    for name in [*configured, *sorted(set(states) - set(configured))]:
        state = states.get(name)
        row: dict[str, Any] = {"name": name, "configured": name in configured}
        row.update(
            state.as_json()
            if state is not None
            else {
                "source": None,
                "uidvalidity": None,
                "last_uid": None,
                "imported": 0,
                "refused": 0,
                "updated_at": None,
            }
        )
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no IMAP mailboxes configured ([[ingest.imap]], docs/imap.md)")
        return
    click.echo(
        f"{'NAME':<16}  {'UIDVALIDITY':>11}  {'LAST UID':>9}  {'IMPORTED':>9}  {'REFUSED':>7}  "
        f"{'UPDATED':<20}  SOURCE"
    )
    for row in rows:
        if row["uidvalidity"] is None:
            click.echo(f"{row['name']:<16}  {'-':>11}  {'-':>9}  {0:>9}  {0:>7}  {'never read':<20}")
            continue
        note = "" if row["configured"] else "  (no longer configured)"
        click.echo(
            f"{row['name']:<16}  {row['uidvalidity']:>11}  {row['last_uid']:>9}  {row['imported']:>9}  "
            f"{row['refused']:>7}  {row['updated_at'][:19]:<20}  {row['source']}{note}"
        )
