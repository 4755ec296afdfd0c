"""Read models and small changes for the voicemail commands (their `--json` is a contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.store.models import Contact, Message, Ticket, Voicemail
from postdesk.voicemail.callers import hints_of
from postdesk.voicemail.numbers import display
from postdesk.voicemail.phones import phones_of, sharers


class NoCallback(Exception):
    """The ticket does not exist or has no callback waiting."""


def open_callbacks(session: Session) -> list[dict[str, Any]]:
    """Tickets whose caller waits for a call back, the longest waiting first."""
    rows = session.execute(
        select(Voicemail, Ticket, Contact)
        .join(Message, Message.id == Voicemail.message_row_id)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .where(Ticket.callback.is_(True), Ticket.status != "closed", Voicemail.called_at.is_(None))
        .order_by(Voicemail.id)
    ).all()
    waiting: dict[int, dict[str, Any]] = {}
    for voicemail, ticket, customer in rows:
        entry = waiting.setdefault(ticket.id, {"since": voicemail.created_at.isoformat(), "voicemails": 0})
        # The newest voicemail's caller and length (and the last name a call gave); the oldest one's time.
        named = entry.get("caller_name", "")
        entry.update(_callback(ticket, customer, voicemail))
        entry["caller_name"] = entry["caller_name"] or named
        entry["voicemails"] += 1
    for ticket_id, entry in waiting.items():
        entry["probable_callers"] = [hint.as_dict() for hint in hints_of(session, ticket_id)]
    return sorted(waiting.values(), key=lambda entry: entry["since"])


def mark_called(session: Session, ticket_id: int, note: str | None, now: datetime) -> int:
    """Record the call back on TICKET_ID's waiting voicemails; returns how many there were."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NoCallback(f"no ticket {ticket_id}")
    if not ticket.callback:
        raise NoCallback(f"ticket {ticket_id} has no callback waiting")
    waiting = session.execute(
        select(Voicemail)
        .join(Message, Message.id == Voicemail.message_row_id)
        .where(Message.ticket_id == ticket_id, Voicemail.called_at.is_(None))
    ).scalars()
    count = 0
    for voicemail in waiting:
        voicemail.called_at, voicemail.called_note = now, note
        count += 1
    ticket.callback = False
    ticket.updated_at = now
    return count


def contact_detail(session: Session, email: str) -> dict[str, Any] | None:
    contact = session.execute(select(Contact).where(Contact.email == email.lower())).scalar_one_or_none()
    if contact is None:
        return None
    tickets = session.execute(
        select(Ticket).where(Ticket.contact_id == contact.id).order_by(Ticket.id.desc())
    ).scalars()
    return {
        "email": contact.email,
        "name": contact.name,
        "created_at": contact.created_at.isoformat(),
        "phones": [
            {
                "number": phone.number,
                "display": display(phone.number),
                "learned": phone.learned,
                "conflict": phone.conflict,
                "shared_with": list(sharers(session, contact.id, phone.number)),
                "source": phone.source,
                "created_at": phone.created_at.isoformat(),
            }
            for phone in phones_of(session, contact.id)
        ],
        "tickets": [
            {"number": t.number, "status": t.status, "subject": t.subject, "callback": t.callback}
            for t in tickets
        ],
    }


def _callback(ticket: Ticket, customer: Contact, voicemail: Voicemail) -> dict[str, Any]:
    known = voicemail.contact_id is not None
    return {
        "ticket": ticket.number,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "customer": customer.email if known else None,
        "phone": voicemail.caller_number,
        "phone_display": display(voicemail.caller_number) if voicemail.caller_number else None,
        "caller": voicemail.caller,
        "caller_name": voicemail.caller_name or (customer.name if known else ""),
        "duration_seconds": voicemail.duration_seconds,
        "problem": voicemail.problem,
        "last_call_at": voicemail.created_at.isoformat(),
    }
