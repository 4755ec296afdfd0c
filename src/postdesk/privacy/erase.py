"""Erase one person (GDPR Art. 17): their mail, files, numbers and the tickets that were theirs alone.

Tickets they share with other people stay, with the others' mail; only what
the person wrote, what was sent to them, and the desk's mail that quotes
them goes. What remains of the erasure is one audit line: who, when, how
many rows of each kind (docs/privacy.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from postdesk.core.mail import Address
from postdesk.privacy.holdings import PEOPLES_KINDS, Holdings, holdings_of, outbox_near
from postdesk.privacy.rows import delete_messages, delete_tickets, record_audit
from postdesk.store.models import (
    CallerHint,
    Contact,
    ContactPhone,
    Inbound,
    InboundClaim,
    InboundRaw,
    Message,
    Outbox,
    Participant,
    Ticket,
    TriageEvent,
    Voicemail,
)
from postdesk.store.session import Store
from postdesk.tickets.record import contact_for

# What `contacts erase --json` counts, every key always there.
ERASE_COUNTS = (
    "contacts",
    "tickets",
    "messages",
    "attachments",
    "blobs",
    "raw_mails",
    "spooled",
    "outbound",
    "voicemails",
    "dedupe_entries",
    "phones",
    "caller_hints",
    "participants",
    "triage_events",
)

# A line of theirs this long, found in the desk's mail on a shared ticket, is them being quoted.
QUOTED_LINE_CHARS = 16


def erase_person(
    session: Session, email: str, *, ran_by: str, now: datetime, dry_run: bool
) -> dict[str, int]:
    """Erase EMAIL's data in SESSION; the counts of rows removed by kind.

    DRY_RUN does all of it in a savepoint and rolls that back: the counts are
    exactly what a real run would remove, and nothing changes (no audit line).
    """
    savepoint = session.begin_nested()
    counts = _erase(session, holdings_of(session, email), now)
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        record_audit(session, "erase", ran_by, now, counts)
    return counts


def _erase(session: Session, held: Holdings, now: datetime) -> dict[str, int]:
    counts: Counter[str] = Counter()
    shared = [t for t in held.ticket_ids if t not in held.own_ticket_ids]
    doomed = set(held.message_ids) | _quoting(session, held, shared)
    for ticket_id in shared:
        _hand_over(session, ticket_id, held, doomed, now)
    delete_messages(session, sorted(doomed), counts)
    delete_tickets(session, held.own_ticket_ids, counts)
    for row in session.execute(select(Outbox).where(outbox_near(held))).scalars().all():
        if held.email in [r.lower() for r in row.recipients]:
            session.delete(row)
            counts["outbound"] += 1
    counts["participants"] += _deleted(session, delete(Participant).where(Participant.email == held.email))
    counts["triage_events"] += _deleted(
        session,
        delete(TriageEvent).where(
            TriageEvent.ticket_id.in_(shared),
            (TriageEvent.name == held.email) | TriageEvent.detail.contains(held.email),
        ),
    )
    _erase_spool(session, held.email, counts)
    if held.contact is not None:
        _erase_contact(session, held.contact, counts)
    session.flush()
    return {key: counts[key] for key in ERASE_COUNTS}


def _quoting(session: Session, held: Holdings, shared: list[int]) -> set[int]:
    """The desk's and agents' mail on SHARED tickets that quotes a line of theirs or names them:
    a notification names the ticket's customer, an agent's command mail quotes the notification."""
    if not shared:
        return set()
    theirs = session.execute(
        select(Message.text).where(Message.id.in_(held.message_ids), Message.direction == "in")
    ).scalars()
    lines = {
        line.strip()
        for text in theirs
        for line in text.splitlines()
        if len(line.strip()) >= QUOTED_LINE_CHARS
    }
    desks = session.execute(
        select(Message.id, Message.text, Message.inbound_id).where(
            Message.ticket_id.in_(shared),
            (Message.direction == "out") | Message.kind.not_in(PEOPLES_KINDS),
        )
    ).all()
    quoting = {
        row_id
        for row_id, text, _ in desks
        if held.email in text.lower() or any(line in text for line in lines)
    }
    # An agent's command mail keeps only the commands as text; its raw bytes quote the notification.
    needle = held.email.encode()
    for row_id, _, inbound_id in desks:
        if row_id not in quoting and inbound_id is not None:
            raw = session.get(InboundRaw, inbound_id)
            if raw is not None and needle in raw.raw.lower():
                quoting.add(row_id)
    return quoting


def _hand_over(session: Session, ticket_id: int, held: Holdings, doomed: set[int], now: datetime) -> None:
    """A shared ticket goes on with the others: its customer and subject become the first other's."""
    ticket = session.get_one(Ticket, ticket_id)
    first_other = session.execute(
        select(Message)
        .where(
            Message.ticket_id == ticket_id,
            Message.direction == "in",
            Message.kind.in_(PEOPLES_KINDS),
            Message.from_email != held.email,
        )
        .order_by(Message.id)
        .limit(1)
    ).scalar_one_or_none()
    first = session.execute(
        select(Message.id).where(Message.ticket_id == ticket_id).order_by(Message.id).limit(1)
    ).scalar_one()
    if first in doomed and first_other is not None:  # the subject is their words
        ticket.subject = first_other.subject
    if held.contact is None or ticket.contact_id != held.contact.id:
        return
    if first_other is not None:
        address = Address(email=first_other.from_email, name=first_other.from_name)
        ticket.contact_id = contact_for(session, address, now).id
        return
    # Shared by a call: another known caller's voicemail is on it (holdings._others_wrote).
    caller = session.execute(
        select(Voicemail.contact_id)
        .join(Message, Message.id == Voicemail.message_row_id)
        .where(
            Message.ticket_id == ticket_id,
            Voicemail.contact_id.is_not(None),
            Voicemail.contact_id != held.contact.id,
        )
        .order_by(Voicemail.id)
        .limit(1)
    ).scalar_one()
    if caller is not None:  # the query asked for a known caller; this tells mypy
        ticket.contact_id = caller


def _erase_spool(session: Session, email: str, counts: Counter[str]) -> None:
    """Received mail that made no message and is from them or names them: its raw bytes go too.

    That is mail that failed in the pipeline, and agents' command-only mail
    (``#merge``), which quotes the notification and so the customer. Only
    rows without a message are read; erasure is rare enough for the scan.
    """
    no_message = ~exists().where(Message.inbound_id == Inbound.id)
    ids = set(session.execute(select(Inbound.id).where(Inbound.envelope_from == email, no_message)).scalars())
    needle = email.encode()
    others = (
        select(InboundRaw.inbound_id, InboundRaw.raw)
        .join(Inbound, Inbound.id == InboundRaw.inbound_id)
        .where(Inbound.status != "pending", no_message)
        .execution_options(yield_per=100)
    )
    ids |= {row_id for row_id, raw in session.execute(others) if needle in raw.lower()}
    if not ids:
        return
    session.execute(delete(InboundClaim).where(InboundClaim.inbound_id.in_(ids)))
    counts["raw_mails"] += _deleted(session, delete(InboundRaw).where(InboundRaw.inbound_id.in_(ids)))
    counts["spooled"] += _deleted(session, delete(Inbound).where(Inbound.id.in_(ids)))


def _erase_contact(session: Session, contact: Contact, counts: Counter[str]) -> None:
    counts["phones"] += _deleted(session, delete(ContactPhone).where(ContactPhone.contact_id == contact.id))
    counts["caller_hints"] += _deleted(session, delete(CallerHint).where(CallerHint.contact_id == contact.id))
    session.execute(update(Voicemail).where(Voicemail.contact_id == contact.id).values(contact_id=None))
    session.execute(delete(Contact).where(Contact.id == contact.id))
    counts["contacts"] += 1


def _deleted(session: Session, statement: Any) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def scrub(store: Store) -> None:
    """Rewrite the SQLite file without the deleted pages, and empty its write-ahead log.

    A DELETE only marks pages free: the bytes stay in the file (and the old
    page images in the -wal) until reused. VACUUM copies the live rows into a
    fresh file, and the TRUNCATE checkpoint empties the log. PostgreSQL's dead
    rows are unreachable by any query at once; docs/privacy.md says when
    they leave the disk.
    """
    if not store.is_sqlite:
        return
    # The driver's own connection: the engine's "begin" hook would open a transaction, and VACUUM
    # refuses to run inside one.
    connection = store.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        connection.close()
