"""The spam stage: a customer's mail that is spam (its verdict, or a blocked sender) is filed on a
ticket of its own in status ``spam``, in the spam queue, and processing ends there.

Ending here is what keeps the desk quiet: no threading (a spammer's copied
ticket tag reopens nothing), no dedupe candidate, no triage, no
acknowledgement, no FAQ suggestion, no agent notification. The mail is kept
all the same; `postdesk tickets not-spam` releases it (`postdesk.pipeline.release`).
"""

from __future__ import annotations

from dataclasses import replace

from postdesk.agents.directory import agent_by_address
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.spam.senders import blocked_by
from postdesk.spam.verdict import CHECKED_KINDS, Verdict
from postdesk.store.models import Ticket
from postdesk.store.queries import SPAM
from postdesk.store.rows import update_loaded
from postdesk.tickets.record import file_mail


def file_spam(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    if mail is None or work.kind not in CHECKED_KINDS or not env.settings.spam.enabled:
        return work
    if agent_by_address(env.settings, mail.sender_email) is not None:
        # Mail from an agent's address is the agent-mail stage's to authenticate: a real
        # agent's reply a filter misjudged must still reach the customer, and a forged one
        # gets at most the hourly how-to there.
        return work
    verdict = work.fact(Verdict)
    pattern = blocked_by(env.session, (mail.sender_email, work.inbound.envelope_from or ""))
    if pattern is not None:
        verdict = Verdict(True, f"blocked sender {pattern}", verdict.forged_from if verdict else False)
    if verdict is None or not verdict.is_spam:
        return work
    filed = file_mail(env.session, env.settings, env.now, replace(work, ticket_id=None))
    assert filed.ticket_id is not None
    ticket = env.session.get_one(Ticket, filed.ticket_id)
    update_loaded(
        env.session,
        ticket,
        {
            "status": SPAM,
            "queue": env.settings.spam.queue,
            "first_response_due": None,
            "spam_reason": verdict.reason,
            "forged_from": verdict.forged_from,
        },
    )
    env.metrics.ack_suppressed("spam")
    return replace(filed, finished=f"spam ({verdict.reason}): ticket {ticket.number}, nothing sent")
