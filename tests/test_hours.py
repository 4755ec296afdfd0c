"""Business hours and SLA due times, across weekends and daylight-saving changes.

Europe/Berlin in 2026: summer time starts Sunday 29 March (02:00 → 03:00),
ends Sunday 25 October (03:00 → 02:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postdesk.core.hours import BusinessHours, parse_duration, parse_week

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours.parse("Mo-Fr 08:00-18:00", "Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_urgent_mail_on_friday_evening_is_due_on_monday_morning_after_the_clocks_went_back() -> None:
    due = OFFICE.add(berlin(2026, 10, 23, 17, 30), timedelta(hours=1))  # Friday, CEST
    assert due == berlin(2026, 10, 26, 8, 30)  # Monday, CET
    assert due == datetime(2026, 10, 26, 7, 30, tzinfo=UTC)


def test_a_day_of_sla_over_a_weekend_and_a_dst_change_counts_only_working_hours() -> None:
    # Friday 10:00: 8 h on Friday, 10 h on Monday, 6 h on Tuesday.
    assert OFFICE.add(berlin(2026, 10, 23, 10, 0), timedelta(hours=24)) == berlin(2026, 10, 27, 14, 0)
    # Spring: Friday 17:00 CET + 4 h = 1 h on Friday, 3 h on Monday (now CEST).
    due = OFFICE.add(berlin(2026, 3, 27, 17, 0), timedelta(hours=4))
    assert due == berlin(2026, 3, 30, 11, 0) and due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def test_mail_outside_hours_starts_counting_at_the_next_opening() -> None:
    saturday = berlin(2026, 10, 24, 12, 0)
    assert not OFFICE.is_open(saturday)
    assert OFFICE.next_open(saturday) == berlin(2026, 10, 26, 8, 0)
    assert OFFICE.add(saturday, timedelta(minutes=90)) == berlin(2026, 10, 26, 9, 30)
    early = berlin(2026, 10, 27, 6, 0)  # Tuesday before opening
    assert OFFICE.add(early, timedelta(hours=1)) == berlin(2026, 10, 27, 9, 0)
    # Exactly at closing time the rest is carried to the next day.
    assert OFFICE.add(berlin(2026, 10, 27, 17, 0), timedelta(hours=1)) == berlin(2026, 10, 27, 18, 0)
    assert OFFICE.add(berlin(2026, 10, 27, 17, 0), timedelta(hours=2)) == berlin(2026, 10, 28, 9, 0)


def test_working_time_between_two_instants() -> None:
    assert OFFICE.between(berlin(2026, 10, 23, 17, 0), berlin(2026, 10, 26, 9, 0)) == timedelta(hours=2)
    assert OFFICE.between(berlin(2026, 10, 24, 9, 0), berlin(2026, 10, 25, 20, 0)) == timedelta(0)
    assert OFFICE.between(berlin(2026, 10, 26, 9, 0), berlin(2026, 10, 26, 8, 0)) == timedelta(0)


def test_a_whole_day_open_on_the_change_days_is_as_long_as_it_really_is() -> None:
    sundays = BusinessHours.parse("Su 00:00-24:00", "Europe/Berlin")
    assert sundays.between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0)) == timedelta(hours=25)
    assert sundays.between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)) == timedelta(hours=23)


def test_around_the_clock_counts_real_hours_across_dst() -> None:
    always = BusinessHours.parse("", "Europe/Berlin")
    start = berlin(2026, 10, 24, 22, 0)  # CEST
    assert always.is_open(start) and always.next_open(start) == start
    assert always.add(start, timedelta(hours=24)) == berlin(2026, 10, 25, 21, 0)  # CET: 24 real hours


def test_hours_and_durations_are_parsed_in_english_and_german() -> None:
    assert parse_week("Mo-Fr 08:00-12:00 13:00-17:00, Sa 09:00-13:00") == parse_week(
        "mo-fr 08:00-12:00 13:00-17:00; sa 09:00-13:00"
    )
    week = parse_week("Di-Do 09:00-17:00, So 10:00-12:00")
    assert (
        week is not None
        and week[1] == week[3] == ((540, 1020),)
        and week[0] == ()
        and week[6] == ((600, 720),)
    )
    assert parse_week("Fr-Mo 10:00-11:00") == parse_week(
        "Fr 10:00-11:00, Sa 10:00-11:00, Su 10:00-11:00, Mo 10:00-11:00"
    )
    assert parse_week("  ") is None
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14) and parse_duration("3d") == timedelta(hours=72)


@pytest.mark.parametrize(
    "spec", ["Mo-Fr", "Mo-Xy 08:00-18:00", "Mo 18:00-08:00", "Mo 08:00-25:00", "weekdays"]
)
def test_bad_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_week(spec)


@pytest.mark.parametrize("text", ["", "1x", "0h", "h", "-1h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
