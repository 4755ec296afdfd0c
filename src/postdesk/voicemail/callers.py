"""Callers the desk can only guess: a learned number names a contact, it never identifies one.

Anyone can write any number into a mail signature. A voicemail from a
number the desk only learned that way opens (or joins) a callback ticket
of its own, which *names* the contacts the caller probably is (the
`caller_hints` rows); it is not theirs, nothing about the call is mailed to
them, and agents' replies on it are held, until an agent confirms the
caller: `postdesk contacts set-phone`, ``#confirm-caller`` in a reply to the
ticket's notification, or ``#merge`` of the ticket into the contact's.
Then the number is the contact's as if an agent had set it, and the
ticket is theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from postdesk.store.models import CallerHint, Contact, ContactPhone, Message, Participant, Ticket, Voicemail
from postdesk.store.portable import insert_ignoring_conflict
from postdesk.voicemail.numbers import display
from postdesk.voicemail.phones import set_phone


@dataclass(frozen=True, slots=True)
class Hint:
    """One contact a ticket's caller probably is, and why the desk thinks so."""

    email: str
    name: str
    number: str  # E.164
    learned_from: str  # the phone row's source: "signature of message 12"
    learned_on: str  # when the number was learned, "2026-12-07"

    def as_dict(self) -> dict[str, str]:
        """For templates and `--json` alike."""
        return {
            "email": self.email,
            "name": self.name,
            "number": self.number,
            "display": display(self.number),
            "learned_from": self.learned_from,
            "learned_on": self.learned_on,
        }


def confirmed_by(agent: str, now: datetime) -> str:
    """The phone row's source after an agent confirmed a caller."""
    return f"confirmed by agent {agent} on {now:%Y-%m-%d}"


def add_hints(session: Session, ticket_id: int, number: str, contacts: Iterable[int], now: datetime) -> None:
    """Name CONTACTS as the probable callers of TICKET_ID (a second call names nobody twice)."""
    for contact_id in contacts:
        values = {"ticket_id": ticket_id, "contact_id": contact_id, "number": number, "created_at": now}
        insert_ignoring_conflict(session, CallerHint, values)


def hints_of(session: Session, ticket_id: int) -> tuple[Hint, ...]:
    """The probable callers TICKET_ID names, by address; () when its caller is confirmed or unknown."""
    rows = session.execute(
        select(CallerHint.number, Contact.email, Contact.name, ContactPhone.source, ContactPhone.created_at)
        .join(Contact, Contact.id == CallerHint.contact_id)
        .outerjoin(
            ContactPhone,
            (ContactPhone.contact_id == CallerHint.contact_id) & (ContactPhone.number == CallerHint.number),
        )
        .where(CallerHint.ticket_id == ticket_id)
        .order_by(Contact.email)
    ).all()
    return tuple(
        Hint(email, name, number, source or "", f"{learned:%Y-%m-%d}" if learned else "")
        for number, email, name, source, learned in rows
    )


def is_unconfirmed(session: Session, ticket_id: int) -> bool:
    """Whether TICKET_ID names probable callers none of whom is confirmed: its replies are held."""
    return bool(session.execute(select(exists().where(CallerHint.ticket_id == ticket_id))).scalar())


def unknown_caller_number(session: Session, ticket_id: int) -> str | None:
    """The newest number that called on TICKET_ID and identified nobody (guessed or unknown)."""
    return session.execute(
        select(Voicemail.caller_number)
        .join(Message, Message.id == Voicemail.message_row_id)
        .where(
            Message.ticket_id == ticket_id,
            Voicemail.contact_id.is_(None),
            Voicemail.caller_number.is_not(None),
        )
        .order_by(Voicemail.id.desc())
        .limit(1)
    ).scalar()


def confirm_caller(
    session: Session, ticket: Ticket, contact: Contact, number: str, source: str, now: datetime
) -> tuple[str, ...]:
    """CONTACT called from NUMBER on TICKET, as an agent says (SOURCE): the number becomes theirs
    as if an agent had set it, and the ticket theirs. Returns the others who have the number too."""
    shared = set_phone(session, contact, number, now, source)
    _make_customer(session, ticket, contact)
    on_ticket = select(Message.id).where(Message.ticket_id == ticket.id)
    session.execute(
        update(Voicemail)
        .where(
            Voicemail.message_row_id.in_(on_ticket),
            Voicemail.caller_number == number,
            Voicemail.contact_id.is_(None),
        )
        .values(contact_id=contact.id)
    )
    session.execute(delete(CallerHint).where(CallerHint.ticket_id == ticket.id))
    ticket.updated_at = now
    return shared


def confirm_number(
    session: Session, contact: Contact, number: str, source: str, now: datetime
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """An agent gave CONTACT the NUMBER (`contacts set-phone`): every ticket that guessed at
    that number's caller becomes CONTACT's. Returns those who share it, and those tickets."""
    shared = set_phone(session, contact, number, now, source)
    guessing = session.execute(
        select(CallerHint.ticket_id)
        .where(CallerHint.number == number)
        .distinct()
        .order_by(CallerHint.ticket_id)
    ).scalars()
    tickets = tuple(guessing)
    for ticket_id in tickets:
        confirm_caller(session, session.get_one(Ticket, ticket_id), contact, number, source, now)
    return shared, tickets


def confirm_by_link(
    session: Session, merged: Ticket, into: Ticket, source: str, now: datetime
) -> Contact | None:
    """MERGED (its messages already moved) went into INTO: an agent linked a guessed call to a
    customer's ticket, and that customer is confirmed as the caller (INTO's, or MERGED's when
    INTO is the guessing one). Into another guessing ticket, or one of the phone system's own,
    the guesses go along instead. Returns the confirmed contact, if any."""
    hints = session.execute(select(CallerHint).where(CallerHint.ticket_id == merged.id)).scalars().all()
    if not hints:
        number = session.execute(select(CallerHint.number).where(CallerHint.ticket_id == into.id)).scalar()
        if number is None or into.contact_id == merged.contact_id:
            return None
        confirm_caller(session, into, merged.contact, number, source, now)
        return merged.contact
    number = hints[0].number
    if into.contact_id == merged.contact_id or is_unconfirmed(session, into.id):
        add_hints(session, into.id, number, [hint.contact_id for hint in hints], now)
        session.execute(delete(CallerHint).where(CallerHint.ticket_id == merged.id))
        return None
    confirm_caller(session, into, into.contact, number, source, now)
    session.execute(delete(CallerHint).where(CallerHint.ticket_id == merged.id))
    return into.contact


def usual_language(session: Session, contact: Contact, ticket: Ticket) -> str:
    """The language of CONTACT's previous ticket: a phone system's mail says nothing about it."""
    earlier = session.execute(
        select(Ticket.language)
        .where(Ticket.contact_id == contact.id, Ticket.id != ticket.id)
        .order_by(Ticket.id.desc())
        .limit(1)
    ).scalar()
    return earlier or ticket.language


def _make_customer(session: Session, ticket: Ticket, contact: Contact) -> None:
    """CONTACT becomes TICKET's customer in place of the phone system."""
    if ticket.contact_id == contact.id:
        return
    ticket.language = usual_language(session, contact, ticket)
    ticket.contact = contact
    for person in [p for p in ticket.participants if p.role == "customer"]:
        ticket.participants.remove(person)
    mine = next((p for p in ticket.participants if p.email == contact.email), None)
    if mine is not None:
        mine.role = "customer"
    else:
        ticket.participants.append(Participant(email=contact.email, role="customer"))
