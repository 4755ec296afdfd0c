"""What `postdesk templates render` fills a template with: an existing
ticket's real facts, and sample values for what only a live mail has.

The context is a superset of every built-in template's variables; the
agent notification's comes from the very function the pipeline uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.agents.commands import read_commands
from postdesk.agents.notify import local_due, notification_context, notification_files
from postdesk.config.model import AgentSettings, Settings
from postdesk.faq.index import FaqIndex
from postdesk.faq.store import load_entries
from postdesk.faq.suggest import Suggestion, find_suggestions
from postdesk.store.models import Message, Ticket
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


def preview_context(
    session: Session, settings: Settings, secret: bytes, ticket: Ticket, language: str, now: datetime
) -> dict[str, Any]:
    desk = settings.desk
    first = (
        session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id)
        )
        .scalars()
        .first()
    )
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
        "faq": faq_preview(session, settings, ticket, first),
        # agent_digest: this one ticket, as if its notifications had been held.
        "count": settings.agent_mail.max_notifications_per_minute + 1,
        "limit": settings.agent_mail.max_notifications_per_minute,
    }
    if first is not None:
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


def faq_preview(
    session: Session, settings: Settings, ticket: Ticket, first: Message | None
) -> tuple[Suggestion, ...]:
    """The FAQ entries the acknowledgement of the ticket's first mail offers (docs/faq.md)."""
    entries = load_entries(session) if settings.faq.suggest and first is not None else ()
    if not entries or first is None:
        return ()
    return find_suggestions(FaqIndex(entries), first.subject, first.text, ticket.language, settings.faq)
