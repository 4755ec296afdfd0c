"""Filing a mail: it becomes a message on a ticket (a new one if it did not
thread), with its attachments stored once per distinct content.

The store stage files every mail this way, and so does the agent-mail stage
for the agent's own mail; `dedupe unmerge` opens a ticket with `open_ticket`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Address, Mail
from postdesk.core.mail import Attachment as MailAttachment
from postdesk.core.work import Work
from postdesk.language.detect import LanguageDecision
from postdesk.store.models import Attachment, Blob, Contact, Message, Participant, Ticket, TriageEvent
from postdesk.store.portable import insert_ignoring_conflict
from postdesk.store.rows import insert_row, insert_rows, update_loaded
from postdesk.triage.decision import Triaged

# Kinds of mail that are a person writing: they reopen a closed ticket.
HUMAN_KINDS = frozenset({MailKind.CUSTOMER})


def file_mail(session: Session, settings: Settings, now: datetime, work: Work) -> Work:
    """Store WORK's mail on `work.ticket_id`, or on a new ticket (opened with
    triage's decision, a fact of WORK) when it has none; WORK then names the
    ticket and the message row."""
    mail = work.mail
    assert mail is not None
    sender = mail.from_ or Address(email=work.inbound.envelope_from or "unknown@invalid")
    if work.ticket_id is None:
        customer = work.customer or sender
        ticket = open_ticket(
            session, settings, now, mail, customer, work.fact(Triaged), work.fact(LanguageDecision)
        )
        new_ticket = True
    else:
        ticket = session.get_one(Ticket, work.ticket_id)
        new_ticket = False
        follow_up(session, ticket, sender, work.kind, now)
    message_row_id = insert_row(
        session,
        Message,
        {
            "ticket_id": ticket.id,
            "direction": "in",
            "kind": work.kind,
            "message_id": mail.message_id or work.dedupe_key,
            "dedupe_key": work.dedupe_key,
            "from_email": sender.email,
            "from_name": sender.name,
            "to_email": mail.to[0].email if mail.to else "",
            "cc": [a.email for a in mail.cc],
            "subject": mail.subject,
            "text": mail.text,
            "html_converted": mail.html_converted,
            "sent_at": mail.date,
            "created_at": now,
            "inbound_id": work.inbound.id,
            "in_reply_to": mail.in_reply_to[0] if mail.in_reply_to else None,
            "references": list(mail.references),
            "defects": list(mail.defects),
            "threaded_by": work.threaded_by,
        },
    )
    insert_rows(session, Attachment, [_attachment(session, message_row_id, a) for a in mail.attachments])
    return replace(
        work,
        ticket_id=ticket.id,
        new_ticket=new_ticket,
        message_row_id=message_row_id,
        notes=work.note(f"{'new ticket' if new_ticket else 'ticket'} {ticket.number}"),
    )


def ticket_language(mail: Mail, default: str) -> str:
    """The mail's Content-Language where we have templates for it, else DEFAULT."""
    declared = (mail.header("content-language") or "").split(",")[0].strip().lower()
    primary = declared.split("-")[0]
    return primary if primary in ("de", "en") else default


def open_ticket(
    session: Session,
    settings: Settings,
    now: datetime,
    mail: Mail,
    customer: Address,
    triaged: Triaged | None,
    language: LanguageDecision | None = None,
) -> Ticket:
    """A new ticket for MAIL, CUSTOMER its customer, with TRIAGED's queue, priority and reasons,
    in LANGUAGE (the language stage's decision; without one, Content-Language or the desk's)."""
    contact = contact_for(session, customer, now)
    ticket = Ticket(
        subject=mail.subject,
        status="open",
        contact_id=contact.id,
        # Mail no customer wrote (spam, a phone system's) has no language decided for it.
        language=language.language if language else ticket_language(mail, settings.desk.language),
        created_at=now,
        updated_at=now,
        **(triaged.ticket_fields() if triaged else {}),
    )
    session.add(ticket)
    session.flush()
    hits = [("language", language.language, language.reason)] if language else []
    hits += triaged.hits if triaged else ()
    session.add_all(
        TriageEvent(ticket_id=ticket.id, created_at=now, step=step, name=name, detail=detail)
        for step, name, detail in hits
    )
    # A new ticket has no participants yet: no need to look any up.
    own = settings.own_addresses
    people = {customer.key: "customer"}
    for address in mail.cc:
        if address.key not in own:
            people.setdefault(address.key, "cc")
    session.add_all(
        Participant(ticket_id=ticket.id, email=email, role=role) for email, role in people.items() if email
    )
    return ticket


def follow_up(session: Session, ticket: Ticket, sender: Address, kind: str, now: datetime) -> None:
    """A mail from SENDER follows up TICKET: it is updated, and a person's mail reopens it."""
    update_loaded(session, ticket, {"updated_at": now})
    if kind in HUMAN_KINDS:
        # Whoever replied in the thread belongs to it from now on.
        if sender.key:
            insert_ignoring_conflict(
                session, Participant, {"ticket_id": ticket.id, "email": sender.key, "role": "cc"}
            )
        if ticket.status != "open":
            ticket.status = "open"
            ticket.closed_at = None


def contact_for(session: Session, address: Address, now: datetime) -> Contact:
    """The contact for ADDRESS, created on first sight (safe against a concurrent worker)."""
    key = address.key
    query = select(Contact).where(Contact.email == key)
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        insert_ignoring_conflict(session, Contact, {"email": key, "name": address.name, "created_at": now})
        found = session.execute(query).scalar_one()
    return found


def _attachment(session: Session, message_row_id: int, part: MailAttachment) -> dict[str, object]:
    digest = hashlib.sha256(part.data).hexdigest()
    insert_ignoring_conflict(session, Blob, {"sha256": digest, "size": part.size, "data": part.data})
    return {
        "message_row_id": message_row_id,
        "filename": part.filename,
        "content_type": part.content_type,
        "size": part.size,
        "blob_sha256": digest,
        "content_id": part.content_id,
        "inline": part.inline,
    }
