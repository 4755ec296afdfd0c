"""The notify-agents stage: the agents of a ticket's queue hear of each new
ticket and each customer reply, with their own reply address for the ticket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from postdesk.agents.mailing import ticket_tag
from postdesk.config.model import AgentSettings, Settings
from postdesk.parse.reply_text import split_reply
from postdesk.store.models import Message, Ticket
from postdesk.threads.tokens import AGENT, make_token, reply_address
from postdesk.voicemail.callers import Hint


def agent_reply_address(settings: Settings, secret: bytes, ticket_id: int, agent: AgentSettings) -> str:
    """AGENT's own reply address for TICKET_ID: valid for that ticket and that agent only."""
    return reply_address(settings.desk.address, make_token(secret, ticket_id, AGENT, agent.email))


def notification_context(
    settings: Settings,
    secret: bytes,
    ticket: Ticket,
    message: Message,
    agent: AgentSettings,
    new: bool,
    callers: Sequence[Hint] = (),
) -> dict[str, Any]:
    """What the agent_notification template is given (also used by `postdesk templates render`).

    CALLERS: whom the ticket's caller probably is, while nobody is confirmed (voicemail/callers.py)."""
    parts = split_reply(message.text)
    text = "\n\n".join(part for part in (parts.new_text, parts.signature) if part) or message.text.strip()
    return {
        "number": ticket.number,
        "tag": ticket_tag(settings, ticket.number),
        "event": "new" if new else "reply",
        "subject": ticket.subject,
        "customer": ticket.contact.email,
        "customer_name": ticket.contact.name,
        "status": ticket.status,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "level": ticket.level,
        "assignee": ticket.assignee or "",
        "due": local_due(settings, ticket),
        "text": text,
        "attachments": [attachment.filename for attachment in message.attachments],
        "reply_address": agent_reply_address(settings, secret, ticket.id, agent),
        "callers": [hint.as_dict() for hint in callers],
    }


def local_due(settings: Settings, ticket: Ticket) -> str:
    due: datetime | None = ticket.first_response_due
    if due is None:
        return ""
    zone = settings.queue(ticket.queue).business_hours().timezone
    return f"{due.astimezone(zone):%Y-%m-%d %H:%M %Z}"
