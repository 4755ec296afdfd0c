"""What counts as answering a ticket, in SQL: the first outgoing mail a
person wrote. Acknowledgements and other mail the desk sends by itself are
no answer; the SLA, `overdue`, `postdesk stats` and the expected response
time in the acknowledgement all count from this one definition."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.sql.selectable import ScalarSelect

from postdesk.store.models import Message, Ticket

# Outgoing kinds the desk sends without a person (to the customer or to
# agents): never a first response. A feature that sends automatic mail on a
# ticket adds its kind here.
AUTOMATIC_KINDS = frozenset(
    {
        "acknowledgement",
        "duplicate_notice",
        "merge_notice",
        "escalation_notice",
        # agent mail (postdesk.agents.mailing)
        "agent_notification",
        "agent_command_error",
        "agent_howto",
        "agent_files",
        "bounce_notice",
    }
)
OPEN_STATUSES = ("open", "pending")


def _is_response() -> ColumnElement[bool]:
    return and_(Message.direction == "out", Message.kind.not_in(sorted(AUTOMATIC_KINDS)))


def first_response_at() -> ScalarSelect[datetime]:
    """When the ticket (in a query over `Ticket`) got its first answer; NULL while it has none."""
    return (
        select(func.min(Message.created_at))
        .where(Message.ticket_id == Ticket.id, _is_response())
        .correlate(Ticket)
        .scalar_subquery()
    )


def answered() -> ColumnElement[bool]:
    """True for a ticket (in a query over `Ticket`) that has had an answer."""
    return exists().where(Message.ticket_id == Ticket.id, _is_response())


def overdue(now: datetime) -> ColumnElement[bool]:
    """Still open, past its first-response due time, and nobody has answered yet."""
    return and_(
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.first_response_due.is_not(None),
        Ticket.first_response_due < now,
        ~answered(),
    )
