"""The respond stage: an acknowledgement for each new ticket a person opened.

Nothing automatic goes to a machine (the loop guard). Acknowledgements are
limited per sender mailbox, per sender domain and for the whole desk each
hour (deliver/limits.py): the per-mailbox limit stops two auto-responders
the guard did not recognise, the others a flood from many senders. Over a
limit the acknowledgement is held, not sent.
"""

from __future__ import annotations

from dataclasses import replace

from postdesk.agents.directory import agent_by_address
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Mail
from postdesk.core.work import Work
from postdesk.deliver.compose import Outgoing, automatic_answer, with_tag
from postdesk.deliver.limits import customer_limits, enqueue_limited
from postdesk.deliver.loopguard import auto_reply_allowed
from postdesk.faq.suggest import Suggestion, find_suggestions
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Ticket
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
    ticket = env.session.get_one(Ticket, work.ticket_id)
    held = enqueue_limited(
        env.session,
        acknowledgement_mail(mail, ticket, env),
        customer_limits(env.settings.replies),
        env.metrics,
        ticket_id=ticket.id,
        kind=ACK_KIND,
        envelope_from=env.settings.outbound.envelope_from or env.settings.desk.address,
        now=env.now,
    )
    if held is not None:
        return replace(work, notes=work.note(f"acknowledgement held: limit {held.name} ({held.key}) reached"))
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
