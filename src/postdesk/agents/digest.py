"""The agent digest: notifications held over ``[agent_mail] max_notifications_per_minute``, in one mail.

The notify-agents stage queues each notification over the limit as a
``held`` outbox row (deliver/limits.py). Once the oldest of an agent's held
notifications is a minute old, the sender loop (``Sender.prepare``) calls
`queue_digests`: one ``agent_digest`` mail per agent listing the tickets,
and the held rows become ``digested`` (kept, never sent themselves).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from postdesk.agents.directory import agent_by_address
from postdesk.agents.mailing import DIGEST_KIND, NOTIFICATION_KIND, mail_agent, ticket_tag
from postdesk.agents.notify import agent_reply_address
from postdesk.config.model import AgentSettings, Settings
from postdesk.deliver.limits import AGENT_NOTIFICATIONS, MINUTE
from postdesk.store.models import Outbox, Ticket
from postdesk.templates.render import MailTemplates

log = logging.getLogger(__name__)


def _held_rows() -> Any:
    return (
        Outbox.held_by == AGENT_NOTIFICATIONS,
        Outbox.status == "held",
        Outbox.kind == NOTIFICATION_KIND,
    )


def queue_digests(
    session: Session, settings: Settings, templates: MailTemplates, secret: bytes, now: datetime
) -> int:
    """Queue a digest for every agent whose held notifications waited a minute; returns how many."""
    due = (
        session.execute(
            select(Outbox.to_mailbox)
            .where(*_held_rows())
            .group_by(Outbox.to_mailbox)
            .having(func.min(Outbox.created_at) <= now - MINUTE)
        )
        .scalars()
        .all()
    )
    queued = 0
    for mailbox in due:
        agent = agent_by_address(settings, mailbox or "")
        if agent is not None and _queue_digest(session, settings, templates, secret, agent, now):
            queued += 1
    return queued


def _queue_digest(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    secret: bytes,
    agent: AgentSettings,
    now: datetime,
) -> bool:
    rows = session.execute(
        select(Outbox.id, Outbox.ticket_id)
        .where(*_held_rows(), Outbox.to_mailbox == agent.email.lower())
        .order_by(Outbox.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return False  # another sender took them
    events: dict[int, int] = {}
    for row in rows:
        if row.ticket_id is not None:
            events[row.ticket_id] = events.get(row.ticket_id, 0) + 1
    tickets = session.execute(select(Ticket).where(Ticket.id.in_(events)).order_by(Ticket.id)).scalars()
    listed = [
        {
            "number": ticket.number,
            "tag": ticket_tag(settings, ticket.number),
            "subject": ticket.subject,
            "customer": ticket.contact.email,
            "queue": ticket.queue,
            "priority": ticket.priority,
            "events": events[ticket.id],
            "reply_address": agent_reply_address(settings, secret, ticket.id, agent),
        }
        for ticket in tickets
    ]
    mail_agent(
        session,
        settings,
        templates,
        agent,
        template=DIGEST_KIND,
        kind=DIGEST_KIND,
        ticket_id=None,
        now=now,
        count=len(rows),
        limit=settings.agent_mail.max_notifications_per_minute,
        tickets=listed,
    )
    session.execute(update(Outbox).where(Outbox.id.in_([row.id for row in rows])).values(status="digested"))
    log.info(
        "agent digest queued to %s: %d notification(s) on %d ticket(s)", agent.email, len(rows), len(listed)
    )
    return True
