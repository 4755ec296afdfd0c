"""Merging one ticket into another (the agent command ``#merge N``), and
the follow-merges stage that sends later mail for a merged ticket on to
the ticket it was merged into."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postdesk.store.models import Message, Outbox, Participant, Ticket, TicketMerge, TriageEvent

# A chain of merges (A into B, B into C) is followed this far at most.
MAX_HOPS = 20


def merge_into(session: Session, source: Ticket, target: Ticket, now: datetime, by: str = "") -> None:
    """Move SOURCE's messages, queued mail and people to TARGET and close SOURCE.

    Messages keep their Message-IDs, so a reply to any of them threads to
    TARGET from now on, and so does mail to SOURCE's reply address or with
    its subject tag (`follow_merges`). SOURCE stays as a closed, empty ticket whose triage
    history says where its messages went.
    """
    session.flush()
    session.execute(update(Message).where(Message.ticket_id == source.id).values(ticket_id=target.id))
    session.execute(update(Outbox).where(Outbox.ticket_id == source.id).values(ticket_id=target.id))
    present = set(
        session.execute(select(Participant.email).where(Participant.ticket_id == target.id)).scalars()
    )
    people = session.execute(select(Participant).where(Participant.ticket_id == source.id)).scalars().all()
    for person in people:
        if person.email not in present:
            # The other ticket's customer may write in this thread too, as someone on Cc.
            session.add(Participant(ticket_id=target.id, email=person.email, role="cc"))
    source.status, source.closed_at, source.updated_at = "closed", now, now
    session.add(TicketMerge(source_id=source.id, target_id=target.id, merged_at=now, merged_by=by))
    target.updated_at = now
    session.add(
        TriageEvent(
            ticket_id=target.id,
            created_at=now,
            step="merge",
            name=str(source.id),
            detail=f"ticket {source.id} ({source.contact.email}) merged into this one",
        )
    )


def merged_target(session: Session, ticket_id: int) -> int:
    """The ticket TICKET_ID was merged into (following a chain of merges), else TICKET_ID."""
    seen = {ticket_id}
    for _ in range(MAX_HOPS):
        merge = session.get(TicketMerge, ticket_id)
        if merge is None or merge.target_id in seen:
            break
        ticket_id = merge.target_id
        seen.add(ticket_id)
    return ticket_id
