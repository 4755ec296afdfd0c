"""Undoing dedupe: a wrongly merged mail becomes its own ticket again (`postdesk tickets unmerge`).

The split-off ticket is opened as if the mail had just arrived: triage
decides it (`postdesk.triage.rules.decide`), `postdesk.tickets.record`
opens it, and the respond stage acknowledges it. The correction is kept as
a label that `postdesk dedupe replay` scores rules against.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from postdesk.core.mail import Address
from postdesk.core.work import Work
from postdesk.language.detect import LanguageDecision
from postdesk.parse.mime import parse_mail
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.stages.respond import acknowledge
from postdesk.store.inbound import read_inbound
from postdesk.store.models import DedupeEntry, DedupeLabel, Message, Ticket
from postdesk.store.queries import DUPLICATE
from postdesk.tickets.record import open_ticket
from postdesk.triage.rules import decide

UNMERGED = "unmerged"


class UndoError(Exception):
    """An undo that cannot be done, in words for the user."""


def unmerge(message_row_id: int, env: StageEnv) -> tuple[int, int]:
    """Move a merged message to a new ticket of its own; returns (old ticket, new ticket)."""
    session = env.session
    message = session.get(Message, message_row_id)
    if message is None:
        raise UndoError(f"no message {message_row_id}")
    if message.threaded_by != DUPLICATE:
        raise UndoError(
            f"message {message_row_id} was not merged by dedupe (it is on ticket {message.ticket_id} "
            f"by {message.threaded_by})"
        )
    inbound = read_inbound(session, message.inbound_id) if message.inbound_id is not None else None
    if inbound is None:
        raise UndoError(f"message {message_row_id} has no stored original mail to open a ticket from")
    mail = parse_mail(inbound.raw)
    work = Work(inbound=inbound, mail=mail, kind=message.kind)
    triaged = decide(work, session, env.settings)
    work = work.with_fact(triaged)
    sender = mail.from_ or Address(email=message.from_email)
    # The same customer's own words again: their ticket's language, decided then.
    was = session.get_one(Ticket, message.ticket_id)
    kept = LanguageDecision(was.language, f"kept from ticket {was.id}, which the mail was split from")
    ticket = open_ticket(session, env.settings, env.now, mail, sender, triaged, kept)
    old_ticket = message.ticket_id
    message.ticket_id = ticket.id
    message.threaded_by = UNMERGED
    entry = session.execute(
        select(DedupeEntry).where(DedupeEntry.message_row_id == message_row_id)
    ).scalar_one_or_none()
    if entry is not None:
        entry.ticket_id = ticket.id
    session.add(
        DedupeLabel(
            kind="unmerge",
            message_row_id=message_row_id,
            ticket_id=ticket.id,
            other_ticket_id=old_ticket,
            created_at=env.now,
        )
    )
    session.flush()
    acknowledge(replace(work, ticket_id=ticket.id, new_ticket=True, message_row_id=message_row_id), env)
    return old_ticket, ticket.id
