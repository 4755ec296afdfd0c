"""Read models for the CLI: tickets and messages as plain dicts.

The keys are the `--json` contract (README, "JSON output"): add keys freely,
never rename or remove one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from postdesk.core.recipients import OwnRecipients, foreign
from postdesk.store.models import Contact, Inbound, Message, Ticket, Voicemail
from postdesk.store.responses import overdue

# `spam`: filed by the spam stage, out of every listing unless asked for (docs/spam.md).
SPAM = "spam"
STATUSES = ("open", "pending", "closed", SPAM)
# `threaded_by` of a mail the dedupe stage merged into the sender's open ticket.
DUPLICATE = "duplicate"
SORTS = ("urgency", "newest")
# Most urgent first: the higher priority, then the earlier due time (none
# last), then whoever has waited longest.
URGENCY_ORDER = (
    case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Ticket.priority, else_=2),
    Ticket.first_response_due.is_(None),
    Ticket.first_response_due,
    Ticket.id,
)


def _ticket_dict(ticket: Ticket, customer: str, message_count: int, overdue: bool = False) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "customer": customer,
        "language": ticket.language,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "message_count": message_count,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "level": ticket.level,
        "assignee": ticket.assignee,
        "first_response_due": ticket.first_response_due.isoformat() if ticket.first_response_due else None,
        "callback": ticket.callback,
        "overdue": overdue,
        "spam_reason": ticket.spam_reason,
        "forged_from": ticket.forged_from,
    }


def list_tickets(
    session: Session,
    status: str | None = None,
    limit: int | None = None,
    *,
    queue: str | None = None,
    level: int | None = None,
    only_overdue: bool = False,
    sort: str = "urgency",
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Tickets, most urgent first (priority, then due time) or, with sort="newest", newest first.
    Spam only with STATUS "spam": it is nobody's work."""
    now = now or datetime.now(UTC)
    counts = select(Message.ticket_id, func.count().label("n")).group_by(Message.ticket_id).subquery()
    late = overdue(now)
    query = (
        select(Ticket, Contact.email, func.coalesce(counts.c.n, 0), late)
        .join(Contact, Contact.id == Ticket.contact_id)
        .outerjoin(counts, counts.c.ticket_id == Ticket.id)
        .order_by(*(URGENCY_ORDER if sort == "urgency" else (Ticket.id.desc(),)))
    )
    query = query.where(Ticket.status == status if status else Ticket.status != SPAM)
    if queue:
        query = query.where(Ticket.queue == queue)
    if level:
        query = query.where(Ticket.level == level)
    if only_overdue:
        query = query.where(late)
    if limit:
        query = query.limit(limit)
    return [_ticket_dict(t, email, n, bool(o)) for t, email, n, o in session.execute(query).all()]


def ticket_detail(
    session: Session, ticket_id: int, own: OwnRecipients | None = None
) -> dict[str, Any] | None:
    """The ticket and its messages. With OWN (the desk's recipients), each received message
    names the envelope recipients that are not the desk's (`foreign_recipients`): mail a
    mail server delivered here by `mailgate` for an address the desk does not answer."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    messages = (
        session.execute(
            select(Message)
            .where(Message.ticket_id == ticket_id)
            .order_by(Message.id)
            .options(selectinload(Message.attachments))
        )
        .scalars()
        .all()
    )
    late = session.execute(select(overdue(datetime.now(UTC))).where(Ticket.id == ticket_id)).scalar_one()
    detail = _ticket_dict(ticket, ticket.contact.email, len(messages), late)
    # Repeats of the request that dedupe added to this ticket instead of opening new ones.
    detail["merged_count"] = sum(1 for m in messages if m.threaded_by == DUPLICATE)
    detail["participants"] = [{"email": p.email, "role": p.role} for p in ticket.participants]
    voicemails = session.execute(
        select(Voicemail).where(Voicemail.message_row_id.in_([m.id for m in messages]))
    ).scalars()
    by_message = {voicemail.message_row_id: voicemail for voicemail in voicemails}
    detail["messages"] = [message_dict(m, by_message.get(m.id)) for m in messages]
    if own is not None:
        _mark_foreign_recipients(session, detail, messages, own)
    return detail


def _mark_foreign_recipients(
    session: Session, detail: dict[str, Any], messages: Sequence[Message], own: OwnRecipients
) -> None:
    # Computed from the stored envelope when shown, not stored: the answer
    # follows the config ([desk] aliases) as it is now.
    inbound_ids = [m.inbound_id for m in messages if m.inbound_id is not None]
    rows = session.execute(select(Inbound.id, Inbound.recipients).where(Inbound.id.in_(inbound_ids)))
    envelopes: dict[int, list[str]] = {inbound_id: recipients for inbound_id, recipients in rows}
    every: list[str] = []
    for message, shown in zip(messages, detail["messages"], strict=True):
        strangers = foreign(envelopes.get(message.inbound_id, ()), own) if message.inbound_id else []
        shown["foreign_recipients"] = strangers
        every += [address for address in strangers if address not in every]
    detail["foreign_recipients"] = every


def message_dict(message: Message, voicemail: Voicemail | None = None) -> dict[str, Any]:
    return {
        "id": message.id,
        "message_id": message.message_id,
        "from": message.from_email,
        "from_name": message.from_name,
        "to": message.to_email,
        "direction": message.direction,
        "kind": message.kind,
        "subject": message.subject,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "threaded_by": message.threaded_by,
        "duplicate": message.threaded_by == DUPLICATE,
        "defects": list(message.defects),
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "voicemail": voicemail_dict(voicemail) if voicemail else None,
    }


def voicemail_dict(voicemail: Voicemail) -> dict[str, Any]:
    return {
        "source": voicemail.source,
        "caller": voicemail.caller,
        "number": voicemail.caller_number,
        "name": voicemail.caller_name,
        "known_caller": voicemail.contact_id is not None,
        "urgent": voicemail.urgent,
        "duration_seconds": voicemail.duration_seconds,
        "duration_from": voicemail.duration_from or None,
        "problem": voicemail.problem,
        "transcript_status": voicemail.transcript_status or None,
        "transcript_error": voicemail.transcript_error,
        "called_at": voicemail.called_at.isoformat() if voicemail.called_at else None,
        "called_note": voicemail.called_note,
    }


def first_inbound_text(session: Session, ticket_id: int) -> str:
    """The text of the mail that opened the ticket ("" if it had none)."""
    text = session.execute(
        select(Message.text)
        .where(Message.ticket_id == ticket_id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    ).scalar()
    return text or ""
