"""What `postdesk templates render` fills a template with: an existing
ticket's real facts, and sample values for what only a live mail has.

The acknowledgement is not filled here at all: `acknowledgement_preview`
builds it with the very function the respond stage sends it with, from the
ticket's first mail as it was stored. For the other templates the context
is a superset of every built-in template's variables; the agent
notification's comes from the function the pipeline uses, and only the
agent templates get it (the agent's reply address is not the customer's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.agents.commands import read_commands
from postdesk.agents.notify import local_due, notification_context, notification_files
from postdesk.config.model import AgentSettings, Settings
from postdesk.core.mail import Address, Mail
from postdesk.deliver.acknowledgement import acknowledgement_mail
from postdesk.deliver.compose import Outgoing
from postdesk.parse.mime import parse_mail
from postdesk.runtime.desk import Desk
from postdesk.store.models import InboundRaw, Message, Ticket
from postdesk.templates.render import quote_text
from postdesk.threads.tokens import make_token, reply_address
from postdesk.triage.response_times import expected_response
from postdesk.voicemail.callers import hints_of

# Mail to agents is written in the desk's language; the rest in the ticket's.
AGENT_TEMPLATES = frozenset(
    {
        "agent_notification",
        "agent_command_error",
        "agent_caller_unconfirmed",
        "agent_howto",
        "agent_digest",
        "bounce_notice",
        "escalation",
    }
)


def preview_language(name: str, ticket: Ticket, settings: Settings) -> str:
    return settings.desk.language if name in AGENT_TEMPLATES else ticket.language


def to_agents(name: str) -> bool:
    """Mail to agents: written in [desk] language, with the agent's own reply address."""
    return name in AGENT_TEMPLATES


def first_mail(session: Session, ticket: Ticket) -> Message | None:
    """The mail that opened TICKET: its first inbound message."""
    return (
        session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id)
        )
        .scalars()
        .first()
    )


def stored_mail(session: Session, message: Message) -> Mail:
    """MESSAGE as the pipeline read it: its raw bytes parsed again (parsing is deterministic).

    A message without stored bytes (none came in: a voicemail's ticket, an
    import) is rebuilt from what its row holds."""
    raw = (
        session.scalar(select(InboundRaw.raw).where(InboundRaw.inbound_id == message.inbound_id))
        if message.inbound_id is not None
        else None
    )
    if raw is not None:
        return parse_mail(bytes(raw))
    return Mail(
        message_id=message.message_id,
        subject=message.subject,
        from_=Address(message.from_email, message.from_name),
        text=message.text,
        in_reply_to=(message.in_reply_to,) if message.in_reply_to else (),
        references=tuple(message.references),
    )


def acknowledgement_preview(
    session: Session, desk: Desk, ticket: Ticket, language: str | None
) -> Outgoing | None:
    """The acknowledgement of TICKET's first mail exactly as the respond stage built it;
    None when the ticket has no inbound mail, or its first has no sender.

    Built at the moment the desk processed that mail (the message's
    created_at), so the expected-response sentence reads the history as it
    was then and the Date header is the one the desk wrote."""
    first = first_mail(session, ticket)
    if first is None:
        return None
    mail = stored_mail(session, first)
    if mail.from_ is None:  # no acknowledgement was sent: the loop guard needs a sender
        return None
    return acknowledgement_mail(
        mail,
        ticket,
        session=session,
        settings=desk.settings,
        secret=desk.secret,
        templates=desk.templates,
        now=first.created_at,
        faq=desk.faq_index(),
        language=language,
    )


def preview_context(
    session: Session,
    settings: Settings,
    secret: bytes,
    ticket: Ticket,
    language: str,
    now: datetime,
    name: str = "agent_notification",
) -> dict[str, Any]:
    """NAME's context for TICKET: its facts, sample values for the rest."""
    desk = settings.desk
    first = first_mail(session, ticket)
    agent = (
        settings.agents[0]
        if settings.agents
        else AgentSettings(email=f"agent@{desk.address.rpartition('@')[2]}", name="Agent")
    )
    tag = f"{desk.ticket_tag}{ticket.number}"
    context: dict[str, Any] = {
        "desk_name": desk.name,
        "desk_address": desk.address,
        "number": ticket.number,
        "tag": tag,
        "subject": ticket.subject,
        "customer": ticket.contact.email,
        "customer_name": ticket.contact.name,
        "quoted": quote_text(first.text if first else "", settings.replies.quote_chars),
        "reply_address": reply_address(desk.address, make_token(secret, ticket.id)),
        "expected_response": expected_response(
            session, settings, queue=ticket.queue, priority=ticket.priority, now=now, language=language
        ),
        "status": ticket.status,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "level": ticket.level,
        "assignee": ticket.assignee or "",
        "due": local_due(settings, ticket),
        "reason": "(preview: the reason given)",
        "caller_number": "",
        "duration": "",
        "agent_name": agent.name,
        "signed": False,
        "text": "(preview: the agent's text)",
        "attachments": [],
        "files": [],
        "files_left_out": False,
        "voicemail": None,
        # agent_files: the ticket's files in one mail.
        "part": 1,
        "parts": 1,
        "too_large": [],
        "faq": (),
        "event": "new",
        "callers": [hint.as_dict() for hint in hints_of(session, ticket.id)],
        "problems": [
            problem.as_context() for problem in read_commands("#priority sky-high", settings).problems
        ],
        "recipient": ticket.contact.email,
        "status_code": "5.1.1",
        "diagnostic": "(preview: the remote server's reason)",
        "bounced_kind": "acknowledgement",
        "bounced_subject": ticket.subject,
        # agent_digest: this one ticket, as if its notifications had been held.
        "count": settings.agent_mail.max_notifications_per_minute + 1,
        "limit": settings.agent_mail.max_notifications_per_minute,
    }
    if first is not None and to_agents(name):
        enclosures = notification_files(session, settings, ticket, first)
        context |= notification_context(
            session, settings, secret, ticket, first, agent, True, enclosures, hints_of(session, ticket.id)
        )
    context["tickets"] = [
        {
            key: context[key]
            for key in ("number", "tag", "subject", "customer", "queue", "priority", "reply_address")
        }
        | {"events": context["count"]}
    ]
    return context
