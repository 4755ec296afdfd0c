"""Which rows of the desk belong to one person: shared by export and erase, so both see the same."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from postdesk.core.kinds import MailKind
from postdesk.store.models import Contact, Message, Outbox, Participant, Ticket, Voicemail

# Mail of people a ticket is about; agents' mail and machines' (bounces, auto-replies) is not.
# Nor is a voicemail: it comes from the phone system, and its caller is `Voicemail.contact_id`.
PEOPLES_KINDS = (MailKind.CUSTOMER.value,)


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
    messages = set(session.execute(select(Message.id).where(mine)).scalars())
    if contact is not None:
        calls = select(Voicemail.message_row_id).where(Voicemail.contact_id == contact.id)
        messages |= set(session.execute(calls).scalars())
        tickets |= set(session.execute(select(Message.ticket_id).where(Message.id.in_(calls))).scalars())
    contact_id = contact.id if contact is not None else None
    own = [t for t in sorted(tickets) if not _others_wrote(session, t, address, contact_id)]
    if own:
        messages |= set(session.execute(select(Message.id).where(Message.ticket_id.in_(own))).scalars())
    return Holdings(address, contact, sorted(tickets), own, sorted(messages))


def _others_wrote(session: Session, ticket_id: int, address: str, contact_id: int | None) -> bool:
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
    if other is not None:
        return True
    someone_called = (
        select(Voicemail.id)
        .join(Message, Message.id == Voicemail.message_row_id)
        .where(Message.ticket_id == ticket_id, Voicemail.contact_id.is_not(None))
        .limit(1)
    )
    if contact_id is not None:
        someone_called = someone_called.where(Voicemail.contact_id != contact_id)
    return session.execute(someone_called).first() is not None


def outbox_near(held: Holdings) -> ColumnElement[bool]:
    """Outbox rows that may be addressed to them; the caller checks the recipients list itself,
    since JSON lists are not searchable alike on both databases."""
    return or_(Outbox.to_mailbox == held.email, Outbox.ticket_id.in_(held.ticket_ids))
