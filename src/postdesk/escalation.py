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

from postdesk.config.model import AgentSettings, Settings
from postdesk.replies.compose import Outgoing, new_message_id
from postdesk.replies.outbox import enqueue
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
    desk = settings.desk
    tz = settings.queue(ticket.queue).business_hours().timezone
    due = ticket.first_response_due
    rendered = templates.render(
        "escalation",
        desk.language,
        desk_name=desk.name,
        number=ticket.number,
        tag=f"{desk.ticket_tag}{ticket.number}",
        subject=ticket.subject,
        customer=ticket.contact.email,
        priority=ticket.priority,
        queue=ticket.queue,
        level=ticket.level,
        due=f"{due.astimezone(tz):%Y-%m-%d %H:%M %Z}" if due else "",
        reason=reason,
        quoted=quote_text(first_inbound_text(session, ticket.id), settings.replies.quote_chars),
    )
    mail = Outgoing(
        from_name=desk.name,
        from_address=desk.address,
        to_name=agent.name,
        to_address=agent.email,
        subject=rendered.subject,
        body=rendered.body,
        message_id=new_message_id("esc", desk.address.rpartition("@")[2]),
        date=now,
        auto_submitted="auto-generated",
        language=desk.language,
    )
    envelope_from = settings.outbound.envelope_from or desk.address
    enqueue(session, mail, ticket_id=ticket.id, kind=NOTICE_KIND, envelope_from=envelope_from, now=now)
