"""Is this mail a follow-up on a ticket we have? (the thread stage asks, and so does agent mail)

In order of trust: a valid reply token in a recipient address, then
In-Reply-To/References naming a message the desk stored or sent, then the
subject tag — which alone only threads when the sender already belongs to
that ticket, so copying a tag into a subject gives a stranger nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def _by_message_ids(mail: Mail, session: Session) -> tuple[int, str] | None:
    wanted = mail.thread_ids[:MAX_THREAD_IDS]
    if not wanted:
        return None
    rows = session.execute(
        select(Message.message_id, Message.ticket_id).where(Message.message_id.in_(wanted))
    ).all()
    ticket_of = {message_id: ticket_id for message_id, ticket_id in rows}
    for message_id in wanted:
        if message_id in ticket_of:
            how = "in_reply_to" if message_id in mail.in_reply_to else "references"
            return ticket_of[message_id], how
    return None


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
