"""Which rows of the desk belong to one person: shared by export and erase, so both see the same."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from postdesk.core.kinds import MailKind
from postdesk.store.models import Contact, Message, Outbox, Participant, Ticket

# Mail of people a ticket is about; agents' mail and machines' (bounces, auto-replies) is not.
PEOPLES_KINDS = (MailKind.CUSTOMER.value, MailKind.VOICEMAIL.value)


@dataclass(frozen=True)
class Holdings:
    """One person's contact (if any), their tickets and their messages on them, as row ids."""

    email: str
    contact: Contact | None
    # Every ticket they are the customer of, on Cc of, or wrote to.
    ticket_ids: list[int]
    # Of those, the tickets where nobody else wrote: erasing deletes them whole.
    own_ticket_ids: list[int]
    # Messages from or to them, and every message on their own tickets.
    message_ids: list[int]


def normalised(email: str) -> str:
    return email.strip().lower()


def holdings_of(session: Session, email: str) -> Holdings:
    """What the desk holds of EMAIL (lower-cased, as contacts and participants are stored)."""
    address = normalised(email)
    contact = session.execute(select(Contact).where(Contact.email == address)).scalar_one_or_none()
    tickets: set[int] = set()
    if contact is not None:
        tickets |= set(session.execute(select(Ticket.id).where(Ticket.contact_id == contact.id)).scalars())
    tickets |= set(
        session.execute(select(Participant.ticket_id).where(Participant.email == address)).scalars()
    )
    mine = or_(Message.from_email == address, Message.to_email == address)
    tickets |= set(session.execute(select(Message.ticket_id).where(mine)).scalars())
    own = [t for t in sorted(tickets) if not _others_wrote(session, t, address)]
    messages = set(session.execute(select(Message.id).where(mine)).scalars())
    if own:
        messages |= set(session.execute(select(Message.id).where(Message.ticket_id.in_(own))).scalars())
    return Holdings(address, contact, sorted(tickets), own, sorted(messages))


def _others_wrote(session: Session, ticket_id: int, address: str) -> bool:
    """Did anyone but ADDRESS send mail in to TICKET_ID (a colleague on Cc, a merged ticket's customer)?

    Agents' answers, the desk's own mail and machines' do not make a ticket shared.
    """
    other = session.execute(
        select(Message.id)
        .where(
            Message.ticket_id == ticket_id,
            Message.direction == "in",
            Message.kind.in_(PEOPLES_KINDS),
            Message.from_email != address,
        )
        .limit(1)
    ).first()
    return other is not None


def outbox_near(held: Holdings) -> ColumnElement[bool]:
    """Outbox rows that may be addressed to them; the caller checks the recipients list itself,
    since JSON lists are not searchable alike on both databases."""
    return or_(Outbox.to_mailbox == held.email, Outbox.ticket_id.in_(held.ticket_ids))
