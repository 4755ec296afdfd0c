"""The expected response time the acknowledgement promises, from history.

"Usually within about 3 hours" is the median first-response time of recent
tickets (`[sla] expected_window`, 7 days by default) of the same queue and
priority that came in at about the same time of day (within an hour of it),
counted in the queue's business hours. Tickets of that sample still waiting
count with their waiting time so far, so a growing backlog pushes the figure
up instead of hiding in it; and when the median ticket is one still waiting,
or the sample is smaller than `[sla] expected_min_tickets`, the sentence is
left out: no figure is better than an invented one. Outside business hours
it says first when the team is back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.hours import BusinessHours, parse_duration
from postdesk.store.models import Ticket
from postdesk.store.responses import first_response_at

# Tickets created this many hours before or after the hour of day in question form the sample.
HOUR_SPREAD = 1
# A look-back window holds at most this many tickets of one queue and priority that we read.
MAX_SAMPLE = 5000

_WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


@dataclass(frozen=True)
class Waited:
    """One ticket of the sample: how long it waited (in business hours), and whether it is answered."""

    time: timedelta
    answered: bool


class TypicalWaits:
    """Typical waits already computed, per queue, priority and hour of day.

    Reading a week of history for every acknowledgement would cost more the
    busier the desk is, just when it is busiest; the figure moves slowly, so a
    worker reuses it for `ttl` (and a surge of 4,000 mails costs a few reads).
    """

    def __init__(self, ttl: timedelta = timedelta(minutes=5)) -> None:
        self.ttl = ttl
        self._known: dict[tuple[str, str, int], tuple[datetime, timedelta | None]] = {}

    def get(
        self, key: tuple[str, str, int], now: datetime, compute: Callable[[], timedelta | None]
    ) -> timedelta | None:
        known = self._known.get(key)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        value = compute()
        self._known[key] = (now, value)
        return value


def expected_response(
    session: Session,
    settings: Settings,
    *,
    queue: str,
    priority: str,
    now: datetime,
    language: str,
    cache: TypicalWaits | None = None,
) -> str:
    """The acknowledgement's sentences in LANGUAGE (de or en); "" when there is nothing honest to say."""
    hours = settings.queue(queue).business_hours()
    opens = hours.next_open(now)
    sentences = []
    if opens > now:
        sentences.append(back_sentence(opens, now, hours.timezone, language))
    window = parse_duration(settings.sla.expected_window)

    def compute() -> timedelta | None:
        sample = waiting_times(
            session, queue, priority, since=now - window, until=now, hours=hours, around=opens
        )
        return typical_wait(sample, settings.sla.expected_min_tickets)

    key = (queue, priority, opens.astimezone(hours.timezone).hour)
    typical = compute() if cache is None else cache.get(key, now, compute)
    if typical is not None:
        sentences.append(usually_sentence(typical, language, working_hours=not hours.always_open))
    return " ".join(sentences)


def waiting_times(
    session: Session,
    queue: str,
    priority: str,
    *,
    since: datetime,
    until: datetime,
    hours: BusinessHours,
    around: datetime,
) -> list[Waited]:
    """First-response waits of the tickets of QUEUE/PRIORITY created between SINCE and UNTIL
    within `HOUR_SPREAD` hours of AROUND's hour of day (in the queue's timezone)."""
    rows = session.execute(
        select(Ticket.created_at, first_response_at())
        .where(
            Ticket.queue == queue,
            Ticket.priority == priority,
            Ticket.created_at >= since,
            Ticket.created_at < until,
            Ticket.first_response_due.is_not(None),  # tickets someone is meant to answer
        )
        .order_by(Ticket.created_at.desc())
        .limit(MAX_SAMPLE)
    ).all()
    hour = around.astimezone(hours.timezone).hour
    sample = []
    for created, answered_at in rows:
        distance = abs(created.astimezone(hours.timezone).hour - hour)
        if min(distance, 24 - distance) <= HOUR_SPREAD:
            # Answered only later than UNTIL is still waiting as of UNTIL: the
            # figure is what the desk knew then (a preview of an old mail's
            # acknowledgement says what that mail was told).
            answered = answered_at is not None and answered_at <= until
            end = answered_at if answered and answered_at is not None else until
            sample.append(Waited(hours.between(created, end), answered))
    return sample


def typical_wait(sample: list[Waited], min_tickets: int) -> timedelta | None:
    """The median wait, when there are enough tickets and the median one has been answered."""
    if len(sample) < min_tickets:
        return None
    middle = sorted(sample, key=lambda waited: waited.time)[(len(sample) - 1) // 2]
    return middle.time if middle.answered else None


def usually_sentence(wait: timedelta, language: str, *, working_hours: bool) -> str:
    span = _span(wait, language, working_hours)
    if language == "de":
        return f"Anfragen wie Ihre beantworten wir zurzeit meist innerhalb von etwa {span}."
    return f"Right now we usually answer requests like yours within about {span}."


def _span(wait: timedelta, language: str, working_hours: bool) -> str:
    de = language == "de"
    minutes = wait.total_seconds() / 60
    if minutes < 50:
        count = max(10, math.ceil(minutes / 10) * 10)
        return f"{count} Minuten" if de else f"{count} minutes"
    if minutes < 90:
        if working_hours:
            return "einer Arbeitsstunde" if de else "one working hour"
        return "einer Stunde" if de else "an hour"
    hours = round(minutes / 60)
    if working_hours:
        return f"{hours} Arbeitsstunden" if de else f"{hours} working hours"
    if hours < 48:
        return f"{hours} Stunden" if de else f"{hours} hours"
    days = round(hours / 24)
    return f"{days} Tagen" if de else f"{days} days"


def back_sentence(opens: datetime, now: datetime, timezone: ZoneInfo, language: str) -> str:
    """When the team is back, e.g. "… back on Monday, 26 October, at 08:00 CET."."""
    local, today = opens.astimezone(timezone), now.astimezone(timezone).date()
    lang = "de" if language == "de" else "en"
    clock = f"{local:%H:%M}" + (" Uhr" if lang == "de" else "") + f" {local:%Z}"
    if local.date() == today:
        day = "heute" if lang == "de" else "today"
    elif local.date() == today + timedelta(days=1):
        day = "morgen" if lang == "de" else "tomorrow"
    else:
        weekday, month = _WEEKDAYS[lang][local.weekday()], _MONTHS[lang][local.month - 1]
        day = f"{weekday}, {local.day}. {month}" if lang == "de" else f"on {weekday}, {local.day} {month}"
    if lang == "de":
        return f"Unser Team ist gerade nicht im Dienst und ab {day}, {clock}, wieder für Sie da."
    return f"Our team is off duty right now and back {day} at {clock}."
