"""Business hours: when a queue's team works, and time counted in those hours.

A queue's hours are written like ``Mo-Fr 08:00-18:00, Sa 09:00-13:00`` (day
names in English or German: Mo Tu/Di We/Mi Th/Do Fr Sa Su/So) in the queue's
timezone. Wall-clock times are turned into instants with `zoneinfo` day by
day, so a working day on the day clocks change is as long as it really is
(08:00-18:00 stays ten real hours) and a night that loses or gains an hour
loses or gains nothing of working time. Everything here takes and returns
aware datetimes; nothing reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Monday is 0, as in `date.weekday()`.
DAY_NAMES = {
    "mo": 0,
    "tu": 1,
    "di": 1,
    "we": 2,
    "mi": 2,
    "th": 3,
    "do": 3,
    "fr": 4,
    "sa": 5,
    "su": 6,
    "so": 6,
}
_GROUP = re.compile(
    r"^(?P<first>[a-z]{2})(?:-(?P<last>[a-z]{2}))?(?P<times>(?:\s+\d{1,2}:\d{2}-\d{1,2}:\d{2})+)$"
)
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
HOURS_EXAMPLE = "'Mo-Fr 08:00-18:00' or 'Mo-Fr 08:00-18:00, Sa 09:00-13:00'"

# Opening intervals per weekday, in minutes after local midnight: ((480, 1080),) is 08:00-18:00.
Week = tuple[tuple[tuple[int, int], ...], ...]


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"4h"``, ``"1h30m"``, ``"3d"``, ``"2w"`` as a timedelta (a day is 24 hours)."""
    match = _DURATION.match(text.replace(" ", "").lower())
    if not text.strip() or match is None:
        raise ValueError(f"expected a duration such as '30m', '4h', '1h30m', '3d' or '2w', got {text!r}")
    weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise ValueError(f"expected a duration longer than zero, got {text!r}")
    return duration


def parse_week(spec: str) -> Week | None:
    """The opening intervals SPEC describes; None for an empty SPEC (open around the clock)."""
    if not spec.strip():
        return None
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for group in re.split(r"\s*[,;]\s*", spec.strip().lower()):
        match = _GROUP.match(group)
        if match is None or match["first"] not in DAY_NAMES or (match["last"] or "mo") not in DAY_NAMES:
            raise ValueError(f"expected opening hours like {HOURS_EXAMPLE}, got {spec!r}")
        first = DAY_NAMES[match["first"]]
        last = DAY_NAMES[match["last"]] if match["last"] else first
        span = [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]
        for start_h, start_m, end_h, end_m in _RANGE.findall(match["times"]):
            start, end = int(start_h) * 60 + int(start_m), int(end_h) * 60 + int(end_m)
            if int(start_m) > 59 or int(end_m) > 59 or not 0 <= start < end <= 24 * 60:
                raise ValueError(
                    f"opening time {start_h}:{start_m}-{end_h}:{end_m} is not a range within a day"
                )
            for day in span:
                days[day].append((start, end))
    return tuple(_merged(intervals) for intervals in days)


def _merged(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


@dataclass(frozen=True)
class BusinessHours:
    """When a team works: opening intervals per weekday in a timezone (None: around the clock)."""

    timezone: ZoneInfo
    week: Week | None = None

    @classmethod
    def parse(cls, spec: str, timezone: str) -> BusinessHours:
        return cls(ZoneInfo(timezone), parse_week(spec))

    @property
    def always_open(self) -> bool:
        return self.week is None

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == at

    def next_open(self, at: datetime) -> datetime:
        """AT itself when the team works then, else when it next starts working (UTC)."""
        if self.week is None:
            return at
        opens, _closes = next(self._intervals_from(at))
        return max(opens, at.astimezone(UTC))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when DURATION of working time has passed after START (UTC)."""
        # In UTC: Python subtracts and adds two times of the same zone as wall-clock times.
        start = start.astimezone(UTC)
        if self.week is None:
            return start + duration
        left = duration
        for opens, closes in self._intervals_from(start):
            begin = max(opens, start)
            if begin + left <= closes:
                return begin + left
            left -= closes - begin
        raise AssertionError("unreachable: _intervals_from never ends")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from START to END (zero when END is not after START)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return timedelta(0)
        if self.week is None:
            return end - start
        total = timedelta(0)
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals (UTC) that end after START, in order, for ever.

        `parse_week` never yields an empty week (a spec names at least one
        range), so every seven days bring at least one interval.
        """
        assert self.week is not None
        start = start.astimezone(UTC)
        day = start.astimezone(self.timezone).date()
        while True:
            for begin, finish in self.week[day.weekday()]:
                opens, closes = self._instant(day, begin), self._instant(day, finish)
                if closes > start:
                    yield opens, closes
            day += timedelta(days=1)

    def _instant(self, day: date, minutes: int) -> datetime:
        # 24:00 is the next day's midnight; a wall-clock time in a DST gap
        # (02:30 when clocks jump from 02:00 to 03:00) resolves as zoneinfo
        # does (fold=0: as if the clocks had not jumped yet).
        wall = datetime.combine(day + timedelta(days=minutes // 1440), time(*divmod(minutes % 1440, 60)))
        return wall.replace(tzinfo=self.timezone).astimezone(UTC)
