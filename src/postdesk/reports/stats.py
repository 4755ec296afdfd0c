"""Figures a team can publish and staff by: `postdesk stats`.

For the tickets created in a period (optionally one queue): new tickets per
day and per hour of day, first-response and resolution times per queue and
priority (median, mean, 90th percentile), SLA breaches; and, now: the
backlog. Also how many duplicates were merged and how many voicemails came in.

Times are real elapsed time (what the customer waited), in hours. The first
response is the first outgoing mail a person wrote (`store.responses`);
response times count only tickets that expect an answer (those with a due
time; not bounces or auto-replies). The 90th percentile is interpolated
linearly between the two nearest values (numpy's default). Days and hours of
day are in the queue's timezone with `--queue`, else in `[triage] timezone`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from postdesk.config.model import PRIORITIES
from postdesk.core.kinds import MailKind
from postdesk.store.models import Message, Ticket
from postdesk.store.queries import DUPLICATE, SPAM
from postdesk.store.responses import OPEN_STATUSES, first_response_at, overdue


@dataclass(frozen=True)
class TicketFacts:
    """What the figures need of one ticket."""

    created_at: datetime
    queue: str
    priority: str
    due: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None


def load_tickets(session: Session, since: datetime, until: datetime, queue: str | None) -> list[TicketFacts]:
    query = select(
        Ticket.created_at,
        Ticket.queue,
        Ticket.priority,
        Ticket.first_response_due,
        first_response_at(),
        Ticket.closed_at,
    ).where(Ticket.created_at >= since, Ticket.created_at < until, Ticket.status != SPAM)
    if queue:
        query = query.where(Ticket.queue == queue)
    return [TicketFacts(*row) for row in session.execute(query).all()]


def collect(
    session: Session, *, since: datetime, until: datetime, timezone: ZoneInfo, queue: str | None
) -> dict[str, Any]:
    """The figures as a dict: the `postdesk stats --json` contract (keys are only ever added)."""
    tickets = load_tickets(session, since, until, queue)
    figures = compute(tickets, since=since, until=until, timezone=timezone, now=until)
    figures["queue"] = queue
    figures["backlog"] = backlog(session, until, queue)
    figures["duplicates_merged"] = _count_inbound(
        session, since, until, queue, Message.threaded_by == DUPLICATE
    )
    figures["voicemails"] = _count_inbound(session, since, until, queue, Message.kind == MailKind.VOICEMAIL)
    # Spam is in no figure above; this says how much of it the desk kept quiet about.
    figures["spam_filed"] = session.execute(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status == SPAM, Ticket.created_at >= since, Ticket.created_at < until)
    ).scalar_one()
    return figures


def compute(
    tickets: list[TicketFacts], *, since: datetime, until: datetime, timezone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """The figures over TICKETS (pure: everything it needs is passed in)."""
    first_day, last_day = since.astimezone(timezone).date(), until.astimezone(timezone).date()
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    by_day: dict[date, list[TicketFacts]] = {day: [] for day in days}
    hours = [0] * 24
    for ticket in tickets:
        local = ticket.created_at.astimezone(timezone)
        by_day.setdefault(local.date(), []).append(ticket)
        hours[local.hour] += 1
    groups: dict[tuple[str, str], list[TicketFacts]] = {}
    for ticket in tickets:
        groups.setdefault((ticket.queue, ticket.priority), []).append(ticket)
    order = sorted(groups, key=lambda key: (key[0], -PRIORITIES.index(key[1])))
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "timezone": timezone.key,
        "tickets": len(tickets),
        "per_day": [
            {
                "date": day.isoformat(),
                "tickets": len(by_day[day]),
                "answered": sum(1 for t in by_day[day] if _response_hours(t) is not None),
                "first_response_median_hours": summary(_responses(by_day[day]))["median_hours"],
            }
            for day in sorted(by_day)
        ],
        "per_hour": hours,
        "overall": _group_figures(tickets, now),
        "by_queue_priority": [
            {"queue": queue, "priority": priority, **_group_figures(groups[(queue, priority)], now)}
            for queue, priority in order
        ],
    }


def _group_figures(tickets: list[TicketFacts], now: datetime) -> dict[str, Any]:
    expecting = [t for t in tickets if t.due is not None]
    resolved = [(t.closed_at - t.created_at).total_seconds() / 3600 for t in tickets if t.closed_at]
    return {
        "tickets": len(tickets),
        "first_response": summary(_responses(tickets)),
        "unanswered": sum(1 for t in expecting if t.answered_at is None),
        "resolution": summary(resolved),
        "sla": {
            "with_due": len(expecting),
            "met": sum(1 for t in expecting if not _breached(t, now) and t.answered_at is not None),
            "breached": sum(1 for t in expecting if _breached(t, now)),
        },
    }


def _breached(ticket: TicketFacts, now: datetime) -> bool:
    assert ticket.due is not None
    return (ticket.answered_at or now) > ticket.due


def _response_hours(ticket: TicketFacts) -> float | None:
    if ticket.due is None or ticket.answered_at is None:
        return None
    return (ticket.answered_at - ticket.created_at).total_seconds() / 3600


def _responses(tickets: Iterable[TicketFacts]) -> list[float]:
    return [h for h in (_response_hours(t) for t in tickets) if h is not None]


def summary(values: list[float]) -> dict[str, Any]:
    """count, median, mean and 90th percentile (linear interpolation), in hours rounded to 0.01."""
    if not values:
        return {"count": 0, "median_hours": None, "mean_hours": None, "p90_hours": None}
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return {
        "count": len(ordered),
        "median_hours": round(statistics.median(ordered), 2),
        "mean_hours": round(statistics.fmean(ordered), 2),
        "p90_hours": round(p90, 2),
    }


def backlog(session: Session, now: datetime, queue: str | None) -> dict[str, Any]:
    """Tickets waiting now: open, pending, overdue, per queue."""
    query = (
        select(Ticket.queue, Ticket.status, func.count(), func.sum(case((overdue(now), 1), else_=0)))
        .where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.queue, Ticket.status)
    )
    if queue:
        query = query.where(Ticket.queue == queue)
    per_queue: dict[str, Counter[str]] = {}
    for name, status, count, late in session.execute(query).all():
        counter = per_queue.setdefault(name, Counter())
        counter[status] += count
        counter["overdue"] += int(late or 0)
    total: Counter[str] = sum(per_queue.values(), Counter())
    shape = ("open", "pending", "overdue")
    return {
        **{key: total[key] for key in shape},
        "by_queue": {name: {key: c[key] for key in shape} for name, c in sorted(per_queue.items())},
    }


def _count_inbound(
    session: Session, since: datetime, until: datetime, queue: str | None, condition: Any
) -> int:
    query = (
        select(func.count())
        .select_from(Message)
        .where(Message.direction == "in", Message.created_at >= since, Message.created_at < until, condition)
    )
    if queue:
        query = query.join(Ticket, Ticket.id == Message.ticket_id).where(Ticket.queue == queue)
    return session.execute(query).scalar_one()
