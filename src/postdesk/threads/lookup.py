"""Is this mail a follow-up on a ticket we have? (the thread stage asks, and so does agent mail)

In order of trust: a valid reply token in a recipient address, then
In-Reply-To/References naming a message the desk sent, or one it received
from this sender or on a ticket the sender belongs to, then the subject tag
— which alone only threads when the sender already belongs to that ticket,
so copying a tag into a subject gives a stranger nothing.

A Message-ID is not a secret and not unique: anyone can send a mail that
reuses another customer's id. So an id threads a mail only onto a ticket
where it is trusted for this sender, and only when exactly one ticket is;
an id two tickets share, both trusted, threads nothing (the mail opens a
new ticket, which dedupe, same-sender only, may still merge).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.mail import Mail
from postdesk.store.models import Message, Participant, Ticket
from postdesk.threads.tokens import CUSTOMER, tokens_in, verify

# References can list hundreds of ids; the newest few are the ones that matter.
MAX_THREAD_IDS = 50


def find_thread(
    mail: Mail, recipients: Sequence[str], session: Session, settings: Settings, secret: bytes
) -> tuple[int, str] | None:
    """(ticket id, how it was found) of the ticket MAIL follows up, or None."""
    return (
        _by_reply_token(mail, recipients, session, settings, secret)
        or _by_message_ids(mail, session)
        or _by_subject_tag(mail, session, settings)
    )


def _by_reply_token(
    mail: Mail, recipients: Sequence[str], session: Session, settings: Settings, secret: bytes
) -> tuple[int, str] | None:
    addresses = [*recipients, *(a.email for a in (*mail.to, *mail.cc))]
    for token in tokens_in(addresses, settings.desk.address):
        valid = token.role == CUSTOMER and verify(secret, token)
        if valid and session.get(Ticket, token.ticket_id) is not None:
            return token.ticket_id, "reply_token"
    return None


class Sighting(NamedTuple):
    """A stored message carrying a wanted Message-ID: on which ticket, sent or received, and from whom."""

    message_id: str
    ticket_id: int
    sent_by_desk: bool
    from_email: str


def _by_message_ids(mail: Mail, session: Session) -> tuple[int, str] | None:
    wanted = mail.thread_ids[:MAX_THREAD_IDS]
    if not wanted:
        return None
    sightings = [
        Sighting(message_id, ticket_id, direction == "out", (from_email or "").lower())
        for message_id, ticket_id, direction, from_email in session.execute(
            select(Message.message_id, Message.ticket_id, Message.direction, Message.from_email).where(
                Message.message_id.in_(wanted)
            )
        )
    ]
    sender = mail.sender_email
    tickets = {s.ticket_id for s in sightings}
    member_of: set[int] = set()
    if sender and tickets:
        member_of = set(
            session.execute(
                select(Participant.ticket_id).where(
                    Participant.email == sender, Participant.ticket_id.in_(sorted(tickets))
                )
            ).scalars()
        )
    for message_id in wanted:
        ticket_id = trusted_ticket([s for s in sightings if s.message_id == message_id], sender, member_of)
        if ticket_id is not None:
            how = "in_reply_to" if message_id in mail.in_reply_to else "references"
            return ticket_id, how
    return None


def trusted_ticket(sightings: Iterable[Sighting], sender: str, member_of: set[int]) -> int | None:
    """The one ticket on which SIGHTINGS (of one Message-ID) may thread SENDER's mail, or None.

    The id is trusted on a ticket when the desk sent it there (only its
    recipients know it), or a message received there with it came from
    SENDER, or SENDER belongs to that ticket (MEMBER_OF: the tickets SENDER
    is a participant of). Trusted on no ticket, or on two: None — which
    ticket "wins" must never depend on the order rows come back in.
    """
    trusted = {
        s.ticket_id
        for s in sightings
        if s.sent_by_desk or (sender and (s.from_email == sender or s.ticket_id in member_of))
    }
    return trusted.pop() if len(trusted) == 1 else None


def subject_tag_pattern(tag: str) -> re.Pattern[str]:
    return re.compile(r"\[" + re.escape(tag) + r"\s*(\d{1,18})\]", re.IGNORECASE)


def _by_subject_tag(mail: Mail, session: Session, settings: Settings) -> tuple[int, str] | None:
    sender = mail.sender_email
    if not sender:
        return None
    for match in subject_tag_pattern(settings.desk.ticket_tag).finditer(mail.subject):
        ticket_id = int(match[1])
        belongs = session.get(Participant, (ticket_id, sender))
        if belongs is not None:
            return ticket_id, "subject_tag"
    return None
