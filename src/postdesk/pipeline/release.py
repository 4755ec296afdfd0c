"""Releasing a mail filed as spam (`postdesk tickets not-spam`): its ticket becomes what it would
have been.

Triage decides its queue, priority, level and due time as for a new ticket
(`postdesk.triage.rules.decide`); then the stages the spam stage cut short
run on it: it joins the dedupe index (a later repeat of it merges), the
customer gets the acknowledgement that was never sent, and the queue's
agents hear of it. The ticket keeps its number. The acknowledgement obeys
the loop guard and the limits on automatic mail like any other; a ticket
whose From the trusted server saw forged (DMARC failed) gets none, ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select

from postdesk.core.work import Work
from postdesk.dedupe.normalise import normalise_mail
from postdesk.dedupe.rules import Decision, Pending
from postdesk.language.detect import LanguageDecision
from postdesk.parse.mime import parse_mail
from postdesk.pipeline import run_stages
from postdesk.pipeline.env import Stage, StageEnv
from postdesk.pipeline.stages.dedupe_file import file_dedupe
from postdesk.pipeline.stages.language import decide_language
from postdesk.pipeline.stages.notify_agents import notify_agents
from postdesk.pipeline.stages.respond import acknowledge
from postdesk.store.inbound import read_inbound
from postdesk.store.models import Message, Ticket, TriageEvent
from postdesk.store.queries import SPAM
from postdesk.triage.rules import decide

OPEN = "open"
# What the spam stage's early end skipped, in the pipeline's order (postdesk.pipeline.STAGES).
RELEASE_STAGES: Sequence[tuple[str, Stage]] = (
    ("dedupe-file", file_dedupe),
    ("respond", acknowledge),
    ("notify-agents", notify_agents),
)


class ReleaseError(Exception):
    """A release that cannot be done, in words for the user."""


def release(number: int, env: StageEnv) -> Work:
    """Release spam ticket NUMBER; the Work's notes say what was done."""
    session = env.session
    ticket = session.get(Ticket, number)
    if ticket is None:
        raise ReleaseError(f"no ticket {number}")
    if ticket.status != SPAM:
        raise ReleaseError(f"ticket {number} is not spam (status {ticket.status})")
    message = session.execute(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)
    ).scalar()
    inbound = read_inbound(session, message.inbound_id) if message and message.inbound_id else None
    if message is None or inbound is None:
        raise ReleaseError(f"ticket {number} has no stored original mail to release")
    mail = parse_mail(inbound.raw)
    work = Work(inbound=inbound, mail=mail, kind=message.kind, dedupe_key=message.dedupe_key or "")
    triaged = decide(work, session, env.settings)
    for key, value in triaged.ticket_fields().items():
        setattr(ticket, key, value)
    # Filed before the language stage ran: the language is decided now, as for any new ticket.
    language = decide_language(work, env).fact(LanguageDecision)
    if language is not None:
        ticket.language = language.language
        session.add(
            TriageEvent(
                ticket_id=ticket.id,
                created_at=env.now,
                step="language",
                name=language.language,
                detail=language.reason,
            )
        )
    ticket.status, ticket.updated_at = OPEN, env.now
    session.add_all(
        TriageEvent(ticket_id=ticket.id, created_at=env.now, step=step, name=name, detail=detail)
        for step, name, detail in triaged.hits
    )
    session.add(
        TriageEvent(
            ticket_id=ticket.id, created_at=env.now, step="not-spam", detail=f"released: {ticket.spam_reason}"
        )
    )
    session.flush()
    normal = normalise_mail(mail.subject, mail.text, env.settings.desk.ticket_tag)
    pending = Pending(normal, mail.sender_email.lower(), Decision("new", reason="released from spam"))
    work = replace(
        work.with_fact(triaged).with_fact(pending),
        ticket_id=ticket.id,
        new_ticket=True,
        message_row_id=message.id,
        notes=(f"ticket {ticket.number} released to queue {ticket.queue}",),
    )
    stages = RELEASE_STAGES
    if ticket.forged_from:
        stages = tuple(stage for stage in stages if stage[0] != "respond")
        work = replace(work, notes=work.note("no acknowledgement: the trusted server saw its From forged"))
    return run_stages(work, env, stages)
