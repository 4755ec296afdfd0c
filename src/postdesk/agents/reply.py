"""An agent's answer, sent to the ticket's customer from the desk's address.

The customer sees the desk: its name and address in From, the ticket's
customer reply address in Reply-To, the subject tag, and In-Reply-To /
References to the customer's latest mail, so their client threads it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.agents.mailing import REPLY_KIND, ticket_tag
from postdesk.config.model import AgentSettings, Settings
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Attachment
from postdesk.deliver.compose import Outgoing, new_message_id, with_tag
from postdesk.deliver.outbox import enqueue
from postdesk.store.models import Message, Ticket
from postdesk.templates.render import MailTemplates
from postdesk.threads.tokens import make_token, reply_address


def answer_customer(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    secret: bytes,
    ticket: Ticket,
    agent: AgentSettings,
    text: str,
    attachments: tuple[Attachment, ...],
    now: datetime,
) -> int | None:
    """Queue TEXT (and ATTACHMENTS) to TICKET's customer; returns the outgoing message row's id."""
    desk = settings.desk
    tag = ticket_tag(settings, ticket.number)
    rendered = templates.render(
        "agent_reply",
        ticket.language,
        desk_name=desk.name,
        number=ticket.number,
        tag=tag,
        subject=ticket.subject,
        text=text,
        agent_name=agent.name,
        signed=signed_by(text, agent.name),
        customer_name=ticket.contact.name,
    )
    latest = _latest_customer_mail(session, ticket)
    references = (*latest.references, latest.message_id) if latest else ()
    mail = Outgoing(
        from_name=desk.name,
        from_address=desk.address,
        to_name=ticket.contact.name,
        to_address=ticket.contact.email,
        subject=with_tag(rendered.subject, tag),
        body=rendered.body,
        message_id=new_message_id("re", desk.address.rpartition("@")[2]),
        date=now,
        in_reply_to=latest.message_id if latest else None,
        references=references[-20:],
        reply_to=reply_address(desk.address, make_token(secret, ticket.id)),
        language=ticket.language,
        attachments=attachments,
    )
    ticket.updated_at = now
    envelope_from = settings.outbound.envelope_from or desk.address
    return enqueue(session, mail, ticket_id=ticket.id, kind=REPLY_KIND, envelope_from=envelope_from, now=now)


# A sign-off is a short last line ("Anna", "Best, Anna", "Anna Agent").
_SIGN_OFF_MAX_CHARS = 40


def signed_by(text: str, name: str) -> bool:
    """Whether TEXT already ends with a sign-off naming the agent NAME (first name or full).

    The template adds the agent's name under the text; an agent who signed
    the reply would otherwise be named twice ("Best\nAnna\n\nAnna")."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or not name.strip() or len(lines[-1]) > _SIGN_OFF_MAX_CHARS:
        return False
    words = set(re.findall(r"\w+", lines[-1].casefold()))
    return name.split()[0].casefold() in words or name.strip().casefold() == lines[-1].casefold()


def _latest_customer_mail(session: Session, ticket: Ticket) -> Message | None:
    return session.execute(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == "in", Message.kind == MailKind.CUSTOMER)
        .order_by(Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
