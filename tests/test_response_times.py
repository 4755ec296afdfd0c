"""The expected response time in the acknowledgement: from history, in words,
nothing without enough history, and when the team is back outside hours."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import make_mail
from postdesk.triage.response_times import Waited, expected_response, typical_wait
from triage_support import ISSUE_RULES, add_ticket, configure, migrated_store, settings_from

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def store(tmp_path: Path, databases):
    yield from migrated_store(databases.url(tmp_path, "times"))


def sentence(
    store, now: datetime, language: str = "de", queue: str = "support", priority: str = "normal"
) -> str:
    settings = settings_from(ISSUE_RULES)
    with store.transaction() as session:
        return expected_response(
            session, settings, queue=queue, priority=priority, now=now, language=language
        )


def history(store, now: datetime, waits: list[timedelta | None], **kwargs) -> None:
    """A ticket a day back from NOW at the same time of day, answered after each of WAITS (None: not yet)."""
    with store.transaction() as session:
        for days, wait in enumerate(waits, start=1):
            add_ticket(session, now - timedelta(days=days), answered_after=wait, **kwargs)


def test_nothing_is_said_without_history(store) -> None:
    assert sentence(store, TUESDAY) == ""
    history(store, TUESDAY, [timedelta(hours=2)] * 4)  # fewer than [sla] expected_min_tickets (5)
    assert sentence(store, TUESDAY) == ""


def test_the_median_of_recent_tickets_at_that_hour_in_working_hours(store) -> None:
    # Tuesday 10:00 back to the Tuesday before: Mon 10:00 … Wed 10:00 of the previous week
    # (six working days at 10:00, and Sunday/Saturday at 10:00 which count from Monday 08:00).
    history(store, TUESDAY, [timedelta(hours=h) for h in (1, 2, 3, 3, 4, 5)])
    with store.transaction() as session:  # another queue, another priority, another hour: not counted
        add_ticket(session, TUESDAY - timedelta(days=1), queue="billing", answered_after=timedelta(hours=30))
        add_ticket(
            session, TUESDAY - timedelta(days=1), priority="urgent", answered_after=timedelta(minutes=5)
        )
        add_ticket(session, TUESDAY - timedelta(days=1, hours=5), answered_after=timedelta(hours=9))
    said = sentence(store, TUESDAY)
    # Working time waited: Mon→1 h; Sun (counts from Mon 08:00, answered Sun 12:00)→0; Sat→0; Fri→3 h;
    # Thu→4 h; Wed→5 h. Sorted 0, 0, 1, 3, 4, 5: the lower median is 1 hour.
    assert said == "Anfragen wie Ihre beantworten wir zurzeit meist innerhalb von etwa einer Arbeitsstunde."
    english = sentence(store, TUESDAY, "en")
    assert english == "Right now we usually answer requests like yours within about one working hour."


def test_hours_in_words_in_a_queue_open_around_the_clock(store) -> None:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    history(store, now, [timedelta(hours=h) for h in (2, 3, 3, 4, 6)], queue="billing")
    assert sentence(store, now, "en", queue="billing") == (
        "Right now we usually answer requests like yours within about 3 hours."
    )
    assert sentence(store, now, "de", queue="billing").endswith("innerhalb von etwa 3 Stunden.")


def test_a_backlog_of_unanswered_tickets_is_not_hidden(store) -> None:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    history(store, now, [timedelta(hours=1), timedelta(hours=1), None, None, None], queue="billing")
    assert sentence(store, now, queue="billing") == ""  # the median ticket is still waiting


def test_outside_hours_it_says_when_the_team_is_back(store) -> None:
    saturday = datetime(2026, 10, 24, 11, 0, tzinfo=BERLIN)
    assert sentence(store, saturday, "de") == (
        "Unser Team ist gerade nicht im Dienst und ab Montag, 26. Oktober, 08:00 Uhr CET, wieder für Sie da."
    )
    assert (
        sentence(store, saturday, "en")
        == "Our team is off duty right now and back on Monday, 26 October at 08:00 CET."
    )
    evening = datetime(2026, 11, 24, 19, 0, tzinfo=BERLIN)
    assert sentence(store, evening, "en") == "Our team is off duty right now and back tomorrow at 08:00 CET."
    early = datetime(2026, 11, 24, 6, 30, tzinfo=BERLIN)
    assert "ab heute, 08:00 Uhr CET" in sentence(store, early, "de")
    # With history, the estimate follows; the sample is taken at the hour the team starts.
    with store.transaction() as session:
        for days in range(1, 8):
            opened = datetime(2026, 10, 26, 8, 15, tzinfo=BERLIN) - timedelta(days=days)
            add_ticket(session, opened.astimezone(UTC), answered_after=timedelta(minutes=20))
    said = sentence(store, datetime(2026, 10, 25, 20, 0, tzinfo=BERLIN), "en")
    assert said.startswith("Our team is off duty right now and back tomorrow at 08:00 CET. ")
    assert said.endswith("within about 20 minutes.")


def test_typical_wait_needs_an_answered_median() -> None:
    hour = timedelta(hours=1)
    assert typical_wait([Waited(hour, True)] * 3, 3) == hour
    assert typical_wait([Waited(hour, True)] * 2, 3) is None
    assert typical_wait([Waited(hour, True), Waited(2 * hour, False), Waited(3 * hour, False)], 3) is None


def test_the_acknowledgement_carries_the_sentence_on_a_desk_with_history(make_desk) -> None:
    desk = make_desk()
    configure(desk, "")  # the default support queue, open around the clock: no dependence on the clock
    desk.run("db", "upgrade")
    now = datetime.now(UTC)
    with desk.store.transaction() as session:
        for days, hours in enumerate((2, 3, 3, 3, 5, 8), start=1):
            add_ticket(session, now - timedelta(days=days), answered_after=timedelta(hours=hours))
    desk.start()
    desk.send(make_mail(subject="Frage zum Tarif", body="Welcher Tarif passt zu mir?\n"))
    desk.wait_until(lambda: desk.outbox_files(), what="the acknowledgement")
    [path] = desk.outbox_files()
    body = email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_body().get_content()
    paragraph = "Anfragen wie Ihre beantworten wir zurzeit meist innerhalb von etwa 3\r\nStunden.\r\n\r\n"
    assert paragraph in body  # its own paragraph, wrapped at 72
