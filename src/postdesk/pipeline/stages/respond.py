"""The respond stage: an acknowledgement for each new ticket a person opened.

Nothing automatic goes to a machine (the loop guard), and no sender gets
more than a configured number of acknowledgements an hour, which is what
stops two auto-responders that the guard did not recognise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postdesk.agents.directory import agent_by_address
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Mail
from postdesk.core.work import Work
from postdesk.deliver.compose import Outgoing, automatic_answer, with_tag
from postdesk.deliver.loopguard import auto_reply_allowed
from postdesk.deliver.outbox import enqueue
from postdesk.faq.suggest import Suggestion, find_suggestions
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Message, Ticket
from postdesk.templates.render import quote_text
from postdesk.threads.tokens import make_token, reply_address
from postdesk.triage.response_times import expected_response

ACK_KIND = "acknowledgement"


def acknowledge(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    assert mail is not None and work.ticket_id is not None
    if not (work.new_ticket and work.kind == MailKind.CUSTOMER and env.settings.replies.acknowledge):
        return work
    if agent_by_address(env.settings, mail.sender_email) is not None:
        return replace(work, notes=work.note("no acknowledgement: the sender is an agent"))
    verdict = auto_reply_allowed(mail, work.inbound.envelope_from, env.settings.own_addresses)
    if not verdict.allowed:
        env.metrics.ack_suppressed(verdict.check)
        return replace(work, notes=work.note(f"no acknowledgement: {verdict.reason}"))
    limit = env.settings.replies.max_acks_per_sender_per_hour
    if _acks_in_last_hour(env.session, mail.sender_email, env) >= limit:
        env.metrics.ack_suppressed("rate_limit")
        return replace(work, notes=work.note(f"no acknowledgement: rate limit of {limit}/h reached"))
    ticket = env.session.get_one(Ticket, work.ticket_id)
    enqueue(
        env.session,
        acknowledgement_mail(mail, ticket, env),
        ticket_id=ticket.id,
        kind=ACK_KIND,
        envelope_from=env.settings.outbound.envelope_from or env.settings.desk.address,
        now=env.now,
    )
    return replace(work, notes=work.note("acknowledgement queued"))


def acknowledgement_mail(mail: Mail, ticket: Ticket, env: StageEnv) -> Outgoing:
    desk = env.settings.desk
    tag = f"{desk.ticket_tag}{ticket.number}"
    reply_to = reply_address(desk.address, make_token(env.secret, ticket.id))
    assert mail.from_ is not None  # the loop guard refuses mail without a sender
    rendered = env.templates.render(
        ACK_KIND,
        ticket.language,
        desk_name=desk.name,
        number=ticket.number,
        tag=tag,
        subject=mail.subject,
        customer_name=mail.from_.name,
        quoted=quote_text(mail.text, env.settings.replies.quote_chars),
        reply_address=reply_to,
        expected_response=expected_response(
            env.session,
            env.settings,
            queue=ticket.queue,
            priority=ticket.priority,
            now=env.now,
            language=ticket.language,
            cache=env.resources.typical_waits,
        ),
        faq=faq_suggestions(mail, ticket, env),
    )
    return automatic_answer(
        mail,
        desk_name=desk.name,
        desk_address=desk.address,
        subject=with_tag(rendered.subject, tag),
        body=rendered.body,
        kind="ack",
        now=env.now,
        reply_to=reply_to,
        language=ticket.language,
    )


def faq_suggestions(mail: Mail, ticket: Ticket, env: StageEnv) -> tuple[Suggestion, ...]:
    """FAQ entries that may already answer the mail (docs/faq.md); () when none is good enough."""
    if env.resources.faq is None:
        return ()
    return find_suggestions(env.resources.faq, mail.subject, mail.text, ticket.language, env.settings.faq)


def _acks_in_last_hour(session: Session, recipient: str, env: StageEnv) -> int:
    since = env.now - timedelta(hours=1)
    return session.execute(
        select(func.count())
        .select_from(Message)
        .where(Message.to_email == recipient, Message.kind == ACK_KIND, Message.created_at >= since)
    ).scalar_one()
