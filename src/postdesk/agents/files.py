"""`#files`: an agent asks for a ticket's files, and gets them by mail, to that agent alone.

The command comes from an authenticated agent's reply (the agent's own
reply token for the ticket), so the files go to the address the token was
made for and to no one else: never to a customer, never to whoever else
wrote the mail's From.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from postdesk.agents.mailing import FILES_KIND, mail_agent, ticket_tag
from postdesk.agents.notify import agent_reply_address, files_context
from postdesk.config.model import AgentSettings, Settings
from postdesk.store.models import Ticket
from postdesk.templates.render import MailTemplates
from postdesk.tickets.files import load, pack, ticket_files

# #files sends mails of [agents] attach_max_bytes each, but never smaller than
# this: `attach_max_bytes = 0` keeps files out of notifications, not out of #files.
MIN_FILES_MAIL_BYTES = 1_000_000


def mail_files(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    secret: bytes,
    ticket: Ticket,
    agent: AgentSettings,
    now: datetime,
) -> str:
    """Mail TICKET's files to AGENT, as many mails as their sizes need; returns what was done."""
    files = ticket_files(session, ticket.id)
    packed = pack(files, max(settings.agent_mail.attach_max_bytes, MIN_FILES_MAIL_BYTES))
    mails = packed.mails or ((),)  # no file fits (or there is none): one mail that says so
    for part, attached in enumerate(mails, start=1):
        mail_agent(
            session,
            settings,
            templates,
            agent,
            template="agent_files",
            kind=FILES_KIND,
            ticket_id=ticket.id,
            now=now,
            reply_to=agent_reply_address(settings, secret, ticket.id, agent),
            enclosed=load(session, attached),
            number=ticket.number,
            tag=ticket_tag(settings, ticket.number),
            subject=ticket.subject,
            part=part,
            parts=len(mails),
            files=files_context(files, attached),
            too_large=[file.label for file in packed.too_large],
        )
    sent = sum(len(attached) for attached in packed.mails)
    return f"{sent} of {len(files)} file(s) mailed to {agent.email} in {len(mails)} mail(s)"
