"""Commands: contacts' phone numbers, callbacks waiting, and transcription outside `serve`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.core.mail import Address
from postdesk.store.models import TriageEvent
from postdesk.tickets.record import contact_for
from postdesk.voicemail.audio import clock
from postdesk.voicemail.callers import confirm_number
from postdesk.voicemail.numbers import display, normalise
from postdesk.voicemail.phones import SET_BY_AGENT
from postdesk.voicemail.queries import NoCallback, contact_detail, mark_called, open_callbacks
from postdesk.voicemail.transcribe import transcriber_for


@click.command("set-phone")
@click.argument("email")
@click.argument("number")
@click.option("--region", help="Region of a number without country code; default [voicemail] default_region.")
@pass_context
def contacts_set_phone(ctx: Context, email: str, number: str, region: str | None) -> None:
    """Give the contact EMAIL the phone NUMBER, so their voicemails find their tickets.

    Any common way of writing it works: "030 1234567", "+49 30 1234567",
    "0049301234567". A number set here wins over numbers learned from signatures,
    and confirms EMAIL as the caller of every callback ticket that only guessed
    at who called from it.
    """
    if "@" not in email or any(char.isspace() for char in email):
        fail(f"{email!r} is not a mail address")
    region = (region or ctx.settings.voicemail.default_region).upper()
    e164 = normalise(number, region)
    if e164 is None:
        fail(f"{number!r} is not a phone number (read in region {region})")
    now = datetime.now(UTC)
    with ctx.store().transaction() as session:
        contact = contact_for(session, Address(email=email), now)
        shared, confirmed = confirm_number(session, contact, e164, SET_BY_AGENT, now)
        for ticket_id in confirmed:
            detail = f"caller confirmed: {contact.email} ({display(e164)}), by contacts set-phone"
            event = TriageEvent(ticket_id=ticket_id, created_at=now, step="agent", name="cli", detail=detail)
            session.add(event)
    click.echo(f"{email.lower()}: {display(e164)}")
    for ticket_id in confirmed:
        click.echo(f"ticket {ticket_id}: caller confirmed, the callback ticket is {email.lower()}'s now")
    if shared:
        click.echo(
            f"note: {display(e164)} is also the number of {', '.join(shared)}; flagged as a conflict "
            "(a number set here wins over learned ones when they call)",
            err=True,
        )


@click.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def contacts_show(ctx: Context, email: str, as_json: bool) -> None:
    """One contact: phone numbers (set or learned, conflicts) and tickets."""
    with ctx.store().transaction() as session:
        detail = contact_detail(session, email)
    if detail is None:
        fail(f"no contact {email}")
    if as_json:
        print_json(detail)
        return
    click.echo(f"{detail['email']}" + (f" ({detail['name']})" if detail["name"] else ""))
    click.echo("  phones:" if detail["phones"] else "  no phone numbers")
    for phone in detail["phones"]:
        how = f"learned ({phone['source']})" if phone["learned"] else phone["source"]
        clash = f"  CONFLICT: also {', '.join(phone['shared_with'])}" if phone["conflict"] else ""
        click.echo(f"    {phone['display']:<20}  {how}{clash}")
    click.echo("  tickets:" if detail["tickets"] else "  no tickets")
    for ticket in detail["tickets"]:
        flag = "  [callback]" if ticket["callback"] else ""
        click.echo(f"    {ticket['number']:>8}  {ticket['status']:<7}  {ticket['subject'][:60]}{flag}")


@click.command("callbacks")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def tickets_callbacks(ctx: Context, as_json: bool) -> None:
    """Callers waiting for a call back (voicemail), the longest waiting first."""
    with ctx.store().transaction() as session:
        rows = open_callbacks(session)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no callbacks waiting")
        return
    click.echo(f"{'TICKET':>8}  {'WAITING SINCE':<16}  {'PHONE':<18}  {'CALLER':<24}  {'LENGTH':>7}  CALLS")
    for row in rows:
        phone = row["phone_display"] or row["caller"] or "anonymous"
        urgent = "  URGENT" if row["priority"] == "urgent" else ""
        guesses = " or ".join(caller["name"] or caller["email"] for caller in row["probable_callers"])
        caller = row["caller_name"] or (f"probably {guesses}?" if guesses else "")
        click.echo(
            f"{row['ticket']:>8}  {row['since'][:16].replace('T', ' '):<16}  {phone[:18]:<18}  "
            f"{caller[:24]:<24}  {clock(row['duration_seconds']) or '?':>7}  "
            f"{row['voicemails']:>5}{urgent}"
        )


@click.command("called")
@click.argument("number", type=int)
@click.option("--note", help="What came of the call, kept with the voicemails.")
@pass_context
def tickets_called(ctx: Context, number: int, note: str | None) -> None:
    """Record that the caller of ticket NUMBER was called back."""
    try:
        with ctx.store().transaction() as session:
            count = mark_called(session, number, note, datetime.now(UTC))
    except NoCallback as error:
        fail(str(error))
    click.echo(f"ticket {number}: call back recorded ({count} voicemail(s))")


@click.group("voicemail")
def voicemail() -> None:
    """Voicemail recordings."""


@voicemail.command("transcribe")
@click.option("--once", is_flag=True, help="Transcribe what is waiting, then exit.")
@pass_context
def voicemail_transcribe(ctx: Context, once: bool) -> None:
    """Run [voicemail] transcribe_command on waiting recordings (`serve` does this itself)."""
    desk = ctx.desk()
    transcriber = transcriber_for(desk.store, desk.settings.voicemail, threading.Event())
    if transcriber is None:
        fail("no [voicemail] transcribe_command is configured")
    total = 0
    while True:
        if transcriber.step():
            total += 1
            click.echo(f"transcribed {total}", err=True)
        elif once:
            break
        else:
            time.sleep(desk.settings.pipeline.poll_seconds)
    click.echo(f"done: {total} recording(s)", err=True)
