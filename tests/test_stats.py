"""`postdesk stats`: the figures against a small history computed by hand, and the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from postdesk.reports.stats import collect
from triage_support import add_message, add_ticket, open_migrated

UNTIL = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def small_history(session, now: datetime = UNTIL) -> None:
    """Seven tickets; all times relative to NOW as if NOW were 24 Nov 2026 12:00 UTC."""
    shift = now - UNTIL
    a = add_ticket(
        session, at(20, 9) + shift, answered_after=2 * H, closed_after=5 * H, customer="a@x.example"
    )
    add_ticket(
        session, at(20, 14) + shift, answered_after=30 * H, closed_after=48 * H, customer="b@x.example"
    )
    add_ticket(session, at(22, 9, 30) + shift, priority="urgent", due_after=H, answered_after=H / 2)
    d = add_ticket(session, at(23, 9) + shift, queue="billing", customer="d@x.example")
    add_ticket(session, at(24, 10) + shift, queue="billing", priority="low", due_after=72 * H)
    add_ticket(session, at(22, 23) + shift, due_after=None, customer="mailer-daemon@x.example")  # a bounce
    add_ticket(session, at(10, 8) + shift, customer="old@x.example")  # before the period: backlog only
    add_message(session, a, at(21, 8) + shift, "in", "customer", threaded_by="duplicate")
    add_message(session, d, at(23, 10) + shift, "in", "voicemail", threaded_by="caller")


def figures_of_small_history(url: str, timezone: str, queue: str | None) -> dict:
    store = open_migrated(url)
    with store.transaction() as session:
        small_history(session)
    with store.transaction() as session:
        since = UNTIL - timedelta(days=7)
        figures = collect(session, since=since, until=UNTIL, timezone=ZoneInfo(timezone), queue=queue)
    store.dispose()
    return figures


def test_stats_against_a_hand_computed_history(tmp_path: Path, databases) -> None:
    figures = figures_of_small_history(databases.url(tmp_path), "UTC", None)

    assert figures["tickets"] == 6 and figures["timezone"] == "UTC" and figures["queue"] is None
    assert [
        (d["date"][-2:], d["tickets"], d["answered"], d["first_response_median_hours"])
        for d in figures["per_day"]
    ] == [
        ("17", 0, 0, None),
        ("18", 0, 0, None),
        ("19", 0, 0, None),
        ("20", 2, 2, 16.0),  # 2 h and 30 h
        ("21", 0, 0, None),
        ("22", 2, 1, 0.5),  # the bounce expects no answer
        ("23", 1, 0, None),
        ("24", 1, 0, None),
    ]
    assert figures["per_hour"][9] == 3 and figures["per_hour"][10] == figures["per_hour"][14] == 1
    assert figures["per_hour"][23] == 1 and sum(figures["per_hour"]) == 6

    overall = figures["overall"]
    # First responses 0.5 h, 2 h, 30 h: p90 interpolates 2 + 0.8 × 28 = 24.4.
    assert overall["first_response"] == {
        "count": 3,
        "median_hours": 2.0,
        "mean_hours": 10.83,
        "p90_hours": 24.4,
    }
    assert overall["unanswered"] == 2
    assert overall["resolution"] == {"count": 2, "median_hours": 26.5, "mean_hours": 26.5, "p90_hours": 43.7}
    # Breached: answered after 30 h with 24 h due, and billing's unanswered one due at 09:00 today.
    assert overall["sla"] == {"with_due": 5, "met": 2, "breached": 2}

    groups = {(g["queue"], g["priority"]): g for g in figures["by_queue_priority"]}
    assert list(groups) == [
        ("billing", "normal"),
        ("billing", "low"),
        ("support", "urgent"),
        ("support", "normal"),
    ]
    assert groups[("billing", "normal")]["sla"] == {"with_due": 1, "met": 0, "breached": 1}
    assert groups[("billing", "low")]["sla"] == {"with_due": 1, "met": 0, "breached": 0}
    assert groups[("support", "urgent")]["first_response"]["median_hours"] == 0.5
    normal = groups[("support", "normal")]
    assert normal["tickets"] == 3 and normal["unanswered"] == 0
    assert normal["first_response"] == {
        "count": 2,
        "median_hours": 16.0,
        "mean_hours": 16.0,
        "p90_hours": 27.2,
    }

    assert figures["backlog"] == {
        "open": 5,
        "pending": 0,
        "overdue": 2,  # billing's from yesterday, and the old one
        "by_queue": {
            "billing": {"open": 2, "pending": 0, "overdue": 1},
            "support": {"open": 3, "pending": 0, "overdue": 1},
        },
    }
    assert figures["duplicates_merged"] == 1 and figures["voicemails"] == 1


def test_stats_for_one_queue_in_its_timezone(tmp_path: Path, databases) -> None:
    figures = figures_of_small_history(databases.url(tmp_path), "Europe/Berlin", "billing")
    assert figures["tickets"] == 2 and figures["queue"] == "billing"
    assert figures["per_hour"][10] == 1 and figures["per_hour"][11] == 1  # 09:00 and 10:00 UTC in CET
    assert figures["backlog"]["open"] == 2 and list(figures["backlog"]["by_queue"]) == ["billing"]
    assert figures["voicemails"] == 1 and figures["duplicates_merged"] == 0


def test_stats_command_prints_json_text_and_draws_the_chart(make_desk) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    with desk.store.transaction() as session:
        small_history(session, now=datetime.now(UTC))
    figures = desk.json("stats", "--since", "7d", "--plot", "stats.png")
    assert figures["tickets"] == 6 and figures["overall"]["first_response"]["median_hours"] == 2.0
    chart = desk.root / "stats.png"
    assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > 10_000

    text = desk.run("stats", "--since", "7d", "--queue", "support").stdout.decode()
    assert "4 new tickets in queue support" in text
    assert "support      normal         3  16.0/16.0/27.2" in text
    assert "backlog now: 3 open, 0 pending, 1 overdue" in text
    refused = desk.run("stats", "--since", "soon", check=False)
    assert refused.returncode == 1 and b"--since: expected a duration" in refused.stderr
