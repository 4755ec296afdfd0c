"""Mail from the desk to an agent: rendered from a template, queued in the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postdesk.config.model import AgentSettings, Settings
from postdesk.core.mail import Attachment
from postdesk.deliver.compose import Outgoing, new_message_id
from postdesk.deliver.limits import Limit, enqueue_limited
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.templates.render import MailTemplates

# Outgoing kinds of mail to agents. None is an answer to the customer
# (store/responses.py AUTOMATIC_KINDS lists them).
NOTIFICATION_KIND = "agent_notification"
# The notifications held over [agent_mail] max_notifications_per_minute, in one mail.
DIGEST_KIND = "agent_digest"
COMMAND_ERROR_KIND = "agent_command_error"
HOWTO_KIND = "agent_howto"
# A ticket's files, to the agent who asked for them with #files.
FILES_KIND = "agent_files"
BOUNCE_NOTICE_KIND = "bounce_notice"
# The agent's answer to the customer: a person's reply, the ticket's first response.
REPLY_KIND = "agent_reply"


def ticket_tag(settings: Settings, number: int | str) -> str:
    return f"{settings.desk.ticket_tag}{number}"


def mail_agent(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    agent: AgentSettings,
    *,
    template: str,
    kind: str,
    ticket_id: int | None,
    now: datetime,
    reply_to: str | None = None,
    references: tuple[str, ...] = (),
    limits: Sequence[Limit] = (),
    metrics: Metrics | None = None,
    enclosed: tuple[Attachment, ...] = (),
    **context: Any,
) -> Limit | None:
    """Render TEMPLATE for AGENT (in the desk's language) and queue it, with the files
    ENCLOSED, held when one of LIMITS is reached; returns the limit that held it (None: it goes out)."""
    desk = settings.desk
    rendered = templates.render(
        template, desk.language, desk_name=desk.name, agent_name=agent.name, **context
    )
    mail = Outgoing(
        from_name=desk.name,
        from_address=desk.address,
        to_name=agent.name,
        to_address=agent.email,
        subject=rendered.subject,
        body=rendered.body,
        message_id=new_message_id("agt", desk.address.rpartition("@")[2]),
        date=now,
        references=references,
        reply_to=reply_to,
        # Mail a machine wrote: the agent's out-of-office must not answer it.
        auto_submitted="auto-generated",
        language=desk.language,
        attachments=enclosed,
    )
    envelope_from = settings.outbound.envelope_from or desk.address
    return enqueue_limited(
        session,
        mail,
        limits,
        metrics or NoMetrics(),
        ticket_id=ticket_id,
        kind=kind,
        envelope_from=envelope_from,
        now=now,
    )
