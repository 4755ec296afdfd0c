"""`postdesk mailgate`: the pipe hook a mail server starts once per mail.

It imports what storing one message needs and nothing more (no pipeline,
templates or ORM models): see docs/benchmarks.md, "Start-up".
"""

from __future__ import annotations

import os
import sys

import click

from postdesk.cli.kit import Context, fail, pass_context
from postdesk.config.load import ConfigError
from postdesk.config.pipe import pipe_settings
from postdesk.core.recipients import foreign
from postdesk.receive import mailgate as gate


@click.command()
@click.option("--sender", help="Envelope sender (Postfix: ${sender}). Empty for the null sender.")
@click.option("--recipient", "recipients", multiple=True, help="Envelope recipient; repeat for several.")
@pass_context
def mailgate(ctx: Context, sender: str | None, recipients: tuple[str, ...]) -> None:
    """Store one RFC 822 message from standard input (a mail server's pipe hook).

    Exit 0 when stored, 75 when the store is unavailable (the mail server
    retries), 65 when the message is refused for good (reason on stderr).
    """
    try:
        settings = pipe_settings(ctx.config_path, os.environ)
    except ConfigError as error:
        fail(str(error), gate.EX_TEMPFAIL)  # a config mistake must not bounce customers' mail
    try:
        raw = gate.read_message(sys.stdin.buffer, settings.max_message_bytes)
    except gate.Refused as error:
        fail(str(error), gate.EX_DATAERR)
    try:
        inbound_id = gate.deliver(settings.store_url, raw, sender, recipients)
    except gate.NotStored as error:
        fail(
            f"message not stored, try again later: {error}{_schema_hint(settings.store_url)}",
            gate.EX_TEMPFAIL,
        )
    # The mail server routed it here, so it is stored all the same; `tickets show` names them.
    strangers = foreign(recipients, settings.own_recipients)
    note = f" (not the desk's: {', '.join(strangers)}; see [desk] aliases)" if strangers else ""
    click.echo(f"stored as inbound {inbound_id}{note}", err=True)


def _schema_hint(store_url: str) -> str:
    """Why a write may have failed, when the reason is a missing migration."""
    from postdesk.store.schema import SchemaOutOfDate, require_current
    from postdesk.store.session import open_store

    try:
        store = open_store(store_url)
    except Exception:  # the store itself is not there; the write error already says so
        return ""
    try:
        require_current(store)
    except SchemaOutOfDate as schema:
        return f" ({schema})"
    except Exception:
        return ""
    finally:
        store.dispose()
    return ""
