"""`postdesk templates list|render`: which mail templates there are, and a preview of one."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from jinja2 import TemplateError

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.cli.preview import acknowledgement_preview, preview_context, preview_language
from postdesk.deliver.acknowledgement import ACK_TEMPLATE
from postdesk.deliver.compose import render
from postdesk.store.models import Ticket
from postdesk.templates.render import LANGUAGES, MailTemplates, TemplateMissing


@click.group("templates")
def templates_group() -> None:
    """The mail templates (built in, or overridden from [templates] path)."""


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def templates_list(ctx: Context, as_json: bool) -> None:
    """Every template, its languages and where each comes from."""
    # No database needed to list files: templates only.
    folder = ctx.settings.templates.path
    templates = MailTemplates(Path(folder) if folder else None)
    if as_json:
        print_json(
            [
                {
                    "name": name,
                    "languages": templates.languages_of(name),
                    "sources": {
                        language: templates.source(name, language)
                        for language in templates.languages_of(name)
                    },
                }
                for name in templates.names()
            ]
        )
        return
    click.echo(f"{'NAME':<28}  {'LANG':<6}  SOURCE")
    for name in templates.names():
        for language in templates.languages_of(name):
            click.echo(f"{name:<28}  {language:<6}  {templates.source(name, language)}")


@templates_group.command("render")
@click.argument("name")
@click.option(
    "--ticket", "number", type=int, required=True, help="Fill the template with this ticket's facts."
)
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language (default: the one the desk would use).")
@click.option(
    "--mail",
    "whole_mail",
    is_flag=True,
    help="acknowledgement only: print the whole mail (headers and MIME body) as the desk sends it.",
)
@pass_context
def templates_render(ctx: Context, name: str, number: int, lang: str | None, whole_mail: bool) -> None:
    """Show the mail template NAME would give for ticket NUMBER (subject, then body).

    The acknowledgement is the one the ticket's first mail got (or would
    have got), built by the same code that sent it; --mail prints it whole.
    """
    desk = ctx.desk()
    if name not in desk.templates.names():
        fail(f"no template {name!r} (templates: {', '.join(desk.templates.names())})")
    if whole_mail and name != ACK_TEMPLATE:
        fail(f"--mail shows the acknowledgement only; {name!r} is shown as subject and body")
    try:
        with desk.store.read() as session:
            ticket = session.get(Ticket, number)
            if ticket is None:
                fail(f"no ticket {number}")
            language = lang or preview_language(name, ticket, desk.settings)
            if name == ACK_TEMPLATE and (mail := acknowledgement_preview(session, desk, ticket, lang)):
                subject, body, raw = mail.subject, mail.body, render(mail)
            else:
                if whole_mail:
                    fail(f"ticket {number} has no customer's mail with a sender: nothing to acknowledge")
                context = preview_context(
                    session, desk.settings, desk.secret, ticket, language, datetime.now(UTC), name
                )
                rendered = desk.templates.render(name, language, **context)
                subject, body, raw = rendered.subject, rendered.body, b""
    except TemplateMissing:
        fail(f"template {name!r} has no {language} version")
    except TemplateError as error:
        fail(f"template {name!r} ({language}, {desk.templates.source(name, language)}): {error}")
    if whole_mail:
        sys.stdout.buffer.write(raw)
        return
    click.echo(f"Subject: {subject}\n\n{body}", nl=False)
