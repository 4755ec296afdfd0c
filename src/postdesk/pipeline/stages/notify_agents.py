"""The notify-agents stage: the agents of a ticket's queue hear of each new ticket and each customer reply,
with their own reply address for the ticket."""

from __future__ import annotations

from dataclasses import replace

from postdesk.agents.directory import agents_to_notify
from postdesk.agents.mailing import NOTIFICATION_KIND, mail_agent
from postdesk.agents.notify import notification_context, notification_files
from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.deliver.limits import notification_limit
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Message, Ticket
from postdesk.tickets.files import load
from postdesk.voicemail.callers import hints_of

NOTIFIED_KINDS = frozenset({MailKind.CUSTOMER, MailKind.VOICEMAIL})


def notify_agents(work: Work, env: StageEnv) -> Work:
    if (
        not env.settings.agents
        or work.kind not in NOTIFIED_KINDS
        or work.ticket_id is None
        or work.message_row_id is None
    ):
        return work
    assert work.mail is not None
    ticket = env.session.get_one(Ticket, work.ticket_id)
    message = env.session.get_one(Message, work.message_row_id)
    agents = agents_to_notify(env.settings, ticket, exclude=[work.mail.sender_email])
    # Over the limit a notification is held; the sender mails the held ones as a digest (agents/digest.py).
    limits = (notification_limit(env.settings.agent_mail, NOTIFICATION_KIND),)
    held = []
    # The customer's files and voicemail recordings go along, up to [agents] attach_max_bytes.
    enclosures = notification_files(env.session, env.settings, ticket, message)
    enclosed = load(env.session, enclosures.attached)
    callers = hints_of(env.session, ticket.id)
    for agent in agents:
        context = notification_context(
            env.session,
            env.settings,
            env.secret,
            ticket,
            message,
            agent,
            work.new_ticket,
            enclosures,
            callers,
        )
        limit = mail_agent(
            env.session,
            env.settings,
            env.templates,
            agent,
            template="agent_notification",
            kind=NOTIFICATION_KIND,
            ticket_id=ticket.id,
            now=env.now,
            reply_to=context["reply_address"],
            references=(message.message_id,),
            limits=limits,
            metrics=env.metrics,
            enclosed=enclosed,
            **context,
        )
        if limit is not None:
            held.append(agent.email)
    if not agents:
        return work
    notes = work.note(f"agents notified: {', '.join(a.email for a in agents)}")
    if held:
        notes = (*notes, f"held for the next digest (over the per-minute limit): {', '.join(held)}")
    return replace(work, notes=notes)
