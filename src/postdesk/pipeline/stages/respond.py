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
from postdesk.core.work import Work
from postdesk.deliver.acknowledgement import ACK_TEMPLATE, acknowledgement_mail
from postdesk.deliver.limits import customer_limits, enqueue_limited
from postdesk.deliver.loopguard import auto_reply_allowed
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Ticket

ACK_KIND = ACK_TEMPLATE  # the outbox kind is the template's name


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
        acknowledgement_mail(
            mail,
            ticket,
            session=env.session,
            settings=env.settings,
            secret=env.secret,
            templates=env.templates,
            now=env.now,
            faq=env.resources.faq,
            waits=env.resources.typical_waits,
        ),
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
