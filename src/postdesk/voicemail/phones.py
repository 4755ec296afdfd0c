"""Contacts' phone numbers: set by agents, learned from signatures, looked up for callers.

Nothing is overwritten. A number that turns up for a second contact is kept
for both and both rows are flagged `conflict` (and logged). Looking a
caller up, numbers an agent set (or confirmed) win over learned ones; a
number that still points at more than one contact identifies nobody. A
number that was only ever learned identifies nobody either: anyone can
write any number into a signature, so its contacts are only the caller's
`probable` ones (voicemail/callers.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postdesk.store.models import Contact, ContactPhone

log = logging.getLogger(__name__)

SET_BY_AGENT = "set by agent"


@dataclass(frozen=True, slots=True)
class Lookup:
    """Who has a number: the one contact an agent gave it, the several agents gave it
    (`shared_by`), or the contacts it was only learned for (`probable`)."""

    contact: Contact | None
    shared_by: tuple[str, ...] = ()
    probable: tuple[Contact, ...] = ()


def set_phone(
    session: Session, contact: Contact, number: str, now: datetime, source: str = SET_BY_AGENT
) -> tuple[str, ...]:
    """Give CONTACT the E.164 NUMBER as set (or confirmed) by an agent, SOURCE saying so;
    returns others who have it too."""
    row = _row(session, contact.id, number)
    if row is None:
        row = _insert(session, contact.id, number, learned=False, source=source, now=now)
    row.learned, row.source = False, source
    return _flag_shared(session, contact, number)


def learn_phone(session: Session, contact: Contact, number: str, source: str, now: datetime) -> str:
    """Record NUMBER as learned for CONTACT: "known", "learned" or "conflict" (also another's)."""
    if _row(session, contact.id, number) is not None:
        return "known"
    _insert(session, contact.id, number, learned=True, source=source, now=now)
    others = _flag_shared(session, contact, number)
    if not others:
        return "learned"
    log.warning(
        "phone number %s learned for %s is also %s's; kept for all, flagged as a conflict",
        number,
        contact.email,
        ", ".join(others),
        extra={"contact": contact.email, "number": number},
    )
    return "conflict"


def lookup(session: Session, number: str) -> Lookup:
    rows = session.execute(
        select(ContactPhone.contact_id, ContactPhone.learned).where(ContactPhone.number == number)
    ).all()
    set_by_agents = {contact_id for contact_id, learned in rows if not learned}
    if not set_by_agents:
        learned_by = {contact_id for contact_id, _ in rows}
        found = session.execute(select(Contact).where(Contact.id.in_(learned_by)).order_by(Contact.email))
        probable = tuple(found.scalars())
        shared = tuple(contact.email for contact in probable) if len(probable) > 1 else ()
        return Lookup(None, shared, probable)
    if len(set_by_agents) == 1:
        return Lookup(session.get_one(Contact, set_by_agents.pop()))
    emails = session.execute(select(Contact.email).where(Contact.id.in_(set_by_agents))).scalars()
    return Lookup(None, tuple(sorted(emails)))


def phones_of(session: Session, contact_id: int) -> Sequence[ContactPhone]:
    return (
        session.execute(
            select(ContactPhone).where(ContactPhone.contact_id == contact_id).order_by(ContactPhone.id)
        )
        .scalars()
        .all()
    )


def sharers(session: Session, contact_id: int, number: str) -> tuple[str, ...]:
    """The other contacts that have NUMBER too."""
    emails = session.execute(
        select(Contact.email)
        .join(ContactPhone, ContactPhone.contact_id == Contact.id)
        .where(ContactPhone.number == number, Contact.id != contact_id)
        .order_by(Contact.email)
    ).scalars()
    return tuple(emails)


def _row(session: Session, contact_id: int, number: str) -> ContactPhone | None:
    return session.execute(
        select(ContactPhone).where(ContactPhone.contact_id == contact_id, ContactPhone.number == number)
    ).scalar_one_or_none()


def _insert(
    session: Session, contact_id: int, number: str, *, learned: bool, source: str, now: datetime
) -> ContactPhone:
    row = ContactPhone(
        contact_id=contact_id, number=number, learned=learned, conflict=False, source=source, created_at=now
    )
    try:
        # A savepoint: on PostgreSQL another worker may have inserted the same pair meanwhile.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        theirs = _row(session, contact_id, number)
        assert theirs is not None
        return theirs
    return row


def _flag_shared(session: Session, contact: Contact, number: str) -> tuple[str, ...]:
    others = sharers(session, contact.id, number)
    if others:
        session.execute(update(ContactPhone).where(ContactPhone.number == number).values(conflict=True))
    return others
