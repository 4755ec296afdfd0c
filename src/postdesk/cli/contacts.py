"""`postdesk contacts list` and `contacts set-vip`: the customers the desk knows.

(`contacts set-phone` and `contacts show` are the voicemail's, in cli/voicemail.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy import select

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.core.mail import Address
from postdesk.store.models import Contact
from postdesk.tickets.record import contact_for


@click.command("set-vip")
@click.argument("email")
@click.option("--off", is_flag=True, help="No longer a VIP.")
@pass_context
def contacts_set_vip(ctx: Context, email: str, off: bool) -> None:
    """Give a contact's mail at least [triage] vip_priority (the contact is created if new)."""
    if "@" not in email:
        fail(f"not a mail address: {email!r}")
    with ctx.store().transaction() as session:
        contact = contact_for(session, Address(email=email.strip()), datetime.now(UTC))
        contact.vip = not off
    click.echo(f"{email.strip().lower()}: {'not a VIP' if off else 'VIP'}")


@click.command("list")
@click.option("--vip", "only_vip", is_flag=True, help="Only VIPs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def contacts_list(ctx: Context, only_vip: bool, as_json: bool) -> None:
    """Contacts, by address."""
    with ctx.store().transaction() as session:
        query = select(Contact).order_by(Contact.email)
        if only_vip:
            query = query.where(Contact.vip.is_(True))
        rows = [
            {"email": c.email, "name": c.name, "vip": c.vip, "created_at": c.created_at.isoformat()}
            for c in session.execute(query).scalars()
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['email']:<40}  {'VIP' if row['vip'] else '   '}  {row['name']}")
    if not rows:
        click.echo("no contacts")
