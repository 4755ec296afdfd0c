"""The `postdesk` command: one group, one sub-command per job.

Every sub-command is named here with where it lives and its one-line help
(`LazyGroup`): `postdesk --help` imports none of them, and running one
imports that one's module alone.
"""

from __future__ import annotations

from pathlib import Path

import click

from postdesk import __version__
from postdesk.cli.kit import Context, private_files
from postdesk.cli.lazy import Lazy, LazyGroup

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


class DeskGroup(LazyGroup):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, desk_options_first(args))


TICKET_COMMANDS = {
    "list": Lazy(
        "postdesk.cli.tickets:tickets_list",
        "Tickets, most urgent first: by priority, then by when the first answer is due.",
    ),
    "show": Lazy("postdesk.cli.tickets:tickets_show", "One ticket with all its messages."),
    "set-language": Lazy(
        "postdesk.cli.tickets:tickets_set_language",
        "Answer ticket NUMBER in LANGUAGE from now on (any language the desk has templates for).",
    ),
    "attachment": Lazy(
        "postdesk.cli.tickets:tickets_attachment",
        "List or save the files of ticket NUMBER: attachments and voicemail recordings, numbered from 1.",
    ),
    "callbacks": Lazy(
        "postdesk.cli.voicemail:tickets_callbacks",
        "Callers waiting for a call back (voicemail), the longest waiting first.",
    ),
    "called": Lazy(
        "postdesk.cli.voicemail:tickets_called", "Record that the caller of ticket NUMBER was called back."
    ),
    "escalate": Lazy(
        "postdesk.cli.triage:tickets_escalate",
        "Move a ticket to the next support level and notify that level's agents by mail.",
    ),
    "mark-feature": Lazy(
        "postdesk.cli.features:tickets_mark_feature",
        "Count a ticket as a feature request: joining the most similar earlier one, else a new one.",
    ),
    "not-spam": Lazy(
        "postdesk.cli.spam:tickets_not_spam",
        "Release spam ticket NUMBER: it joins its queue, and the customer gets the acknowledgement"
        " it missed.",
    ),
    "purge": Lazy(
        "postdesk.cli.spam:tickets_purge",
        "Delete old spam tickets for good, with their mail and every row that refers to them.",
    ),
    "unmerge": Lazy(
        "postdesk.cli.dedupe:tickets_unmerge",
        "Split a mail that dedupe merged into its own ticket, with its own acknowledgement.",
    ),
}

CONTACT_COMMANDS = {
    "erase": Lazy(
        "postdesk.cli.privacy:contacts_erase",
        "Erase EMAIL's mail, files, numbers and sole tickets; shared tickets keep the others' mail.",
    ),
    "export": Lazy(
        "postdesk.cli.privacy:contacts_export",
        "Write everything the desk holds about EMAIL to a JSON file, with its raw mails and files in a zip.",
    ),
    "list": Lazy("postdesk.cli.contacts:contacts_list", "Contacts, by address."),
    "set-phone": Lazy(
        "postdesk.cli.voicemail:contacts_set_phone",
        "Give the contact EMAIL the phone NUMBER, so their voicemails find their tickets.",
    ),
    "set-vip": Lazy(
        "postdesk.cli.contacts:contacts_set_vip",
        "Give a contact's mail at least [triage] vip_priority (the contact is created if new).",
    ),
    "show": Lazy(
        "postdesk.cli.voicemail:contacts_show",
        "One contact: phone numbers (set or learned, conflicts) and tickets.",
    ),
}

DB_COMMANDS = {
    "status": Lazy("postdesk.cli.db:db_status", "Show the schema version and whether it is current."),
    "upgrade": Lazy(
        "postdesk.cli.db:db_upgrade", "Create or migrate the database schema to this version of postdesk."
    ),
}

COMMANDS = {
    "serve": Lazy(
        "postdesk.cli.run:serve", "Run the listeners, the pipeline worker and the sender in one process."
    ),
    "mailgate": Lazy(
        "postdesk.cli.mailgate:mailgate",
        "Store one RFC 822 message from standard input (a mail server's pipe hook).",
    ),
    "process": Lazy("postdesk.cli.run:process", "Run the pipeline over received mail (without listening)."),
    "send": Lazy("postdesk.cli.run:send", "Deliver queued outgoing mail (maildir or SMTP relay)."),
    "triage": Lazy("postdesk.cli.triage:triage_group", "How tickets were routed and prioritised."),
    "features": Lazy(
        "postdesk.cli.features:features_group", "Feature requests customers asked for, and how often."
    ),
    "stats": Lazy(
        "postdesk.cli.triage:stats", "Volume, response and resolution times, SLA breaches and backlog."
    ),
    "faq": Lazy(
        "postdesk.cli.faq:faq_group",
        "FAQ entries suggested in acknowledgements: index the [faq] folder, try a search.",
    ),
    "dedupe": Lazy(
        "postdesk.cli.dedupe:dedupe_group",
        "Duplicate submissions: why a mail was merged or clustered, and trying other rules.",
    ),
    "clusters": Lazy(
        "postdesk.cli.dedupe:clusters_group",
        "Incident clusters: tickets of different customers about the same thing.",
    ),
    "imap": Lazy(
        "postdesk.cli.imap:imap_group", "IMAP mailboxes that `serve` reads ([[ingest.imap]] in the config)."
    ),
    "inbound": Lazy(
        "postdesk.cli.ops:inbound_group", "Received mail waiting for the pipeline, or failed in it."
    ),
    "outbox": Lazy(
        "postdesk.cli.ops:outbox_group",
        "Outgoing mail waiting to be sent, deferred, failed, or held over a limit.",
    ),
    "templates": Lazy(
        "postdesk.cli.templates:templates_group",
        "The mail templates (built in, or overridden from [templates] path).",
    ),
    "voicemail": Lazy("postdesk.cli.voicemail:voicemail", "Voicemail recordings."),
    "senders": Lazy(
        "postdesk.cli.spam:senders_group", "Blocked senders: their mail is filed as spam, silently."
    ),
    "retention": Lazy(
        "postdesk.cli.privacy:retention_group", "How long the desk keeps mail ([retention] in the config)."
    ),
}


@click.group(cls=DeskGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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


@main.group(cls=LazyGroup, lazy=TICKET_COMMANDS)
def tickets() -> None:
    """List and show tickets."""


@main.group(cls=LazyGroup, lazy=CONTACT_COMMANDS)
def contacts() -> None:
    """Contacts: their phone numbers and VIP status."""


@main.group(cls=LazyGroup, lazy=DB_COMMANDS)
def db() -> None:
    """Database schema."""
