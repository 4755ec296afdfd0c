"""Escalation: a ticket goes up one support level, and that level's agents hear of it.

Past the top level (`[triage] levels`) a ticket can go on to the management
queue (`[triage] management_queue`), whose agents are told whatever their
level. Each agent gets one notification mail (template `escalation`, in the
desk's language), queued in the outbox in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from postdesk.agents.mailing import mail_agent, ticket_tag
from postdesk.agents.notify import local_due
from postdesk.config.model import AgentSettings, Settings
from postdesk.store.models import Ticket, TriageEvent
from postdesk.store.queries import first_inbound_text
from postdesk.templates.render import MailTemplates, quote_text

NOTICE_KIND = "escalation_notice"


class EscalationError(Exception):
    """Why a ticket cannot be escalated, in words for the user."""


@dataclass(frozen=True)
class Escalated:
    ticket_id: int
    queue: str
    level: int
    notified: tuple[str, ...]


def escalate(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    ticket_id: int,
    now: datetime,
    *,
    reason: str = "",
    by: str = "",
) -> Escalated:
    """Move TICKET_ID one level up (or to management past the top) and notify the agents there."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise EscalationError(f"no ticket {ticket_id}")
    refused = why_not_escalate(ticket, settings)
    if refused:
        raise EscalationError(refused)
    triage = settings.triage
    before = f"level {ticket.level} in {ticket.queue}"
    if ticket.level < triage.levels:
        ticket.level += 1
    else:
        ticket.queue = triage.management_queue
    ticket.updated_at = now
    agents = agents_for(settings, ticket.queue, ticket.level)
    for agent in agents:
        _notify(session, settings, templates, ticket, agent, reason, now)
    after = f"level {ticket.level} in {ticket.queue}"
    told = ", ".join(a.email for a in agents) or "nobody (no agent there)"
    detail = f"{before} → {after}; notified {told}" + (f"; reason: {reason}" if reason else "")
    session.add(TriageEvent(ticket_id=ticket.id, created_at=now, step="escalate", name=by, detail=detail))
    return Escalated(ticket.id, ticket.queue, ticket.level, tuple(a.email for a in agents))


def why_not_escalate(ticket: Ticket, settings: Settings) -> str:
    """Why TICKET cannot go up a level (or to management past the top); "" when it can."""
    if ticket.status == "closed":
        return f"ticket {ticket.id} is closed"
    triage = settings.triage
    if ticket.level < triage.levels:
        return ""
    if triage.management_queue and ticket.queue != triage.management_queue:
        return ""
    where = "management" if ticket.queue == triage.management_queue else f"the top level ({triage.levels})"
    hint = "" if triage.management_queue else "; set [triage] management_queue to escalate further"
    return f"ticket {ticket.id} is already at {where}{hint}"


def agents_for(settings: Settings, queue: str, level: int) -> list[AgentSettings]:
    """The agents who work QUEUE at LEVEL; for the management queue, all of its agents."""
    management = queue == settings.triage.management_queue
    return [
        agent
        for agent in settings.agents
        if (not agent.queues or queue in agent.queues) and (management or agent.level == level)
    ]


def _notify(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    ticket: Ticket,
    agent: AgentSettings,
    reason: str,
    now: datetime,
) -> None:
    mail_agent(
        session,
        settings,
        templates,
        agent,
        template="escalation",
        kind=NOTICE_KIND,
        ticket_id=ticket.id,
        now=now,
        number=ticket.number,
        tag=ticket_tag(settings, ticket.number),
        subject=ticket.subject,
        customer=ticket.contact.email,
        priority=ticket.priority,
        queue=ticket.queue,
        level=ticket.level,
        due=local_due(settings, ticket),
        reason=reason,
        quoted=quote_text(first_inbound_text(session, ticket.id), settings.replies.quote_chars),
    )
