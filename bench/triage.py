"""What triage adds to a desk's work, on a history the size of a busy helpdesk.

    .venv/bin/python bench/triage.py [--days 30] [--per-day 200] [--mails 500]

Builds a SQLite store with DAYS × PER_DAY answered tickets (the helpdesk we
build for has 150-200 new tickets a day), then times:

- the triage decision (address, 12 rules, VIP lookup, SLA due in business hours) per mail,
  on real support mail;
- the expected-response sentence of an acknowledgement (history query + median);
- `postdesk stats` figures over the last 30 days.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import machine, progress, realistic_mails
from postdesk.config.model import Settings
from postdesk.core.work import InboundMessage, Work
from postdesk.parse.mime import parse_mail
from postdesk.pipeline.env import StageEnv
from postdesk.reports.stats import collect
from postdesk.store.migrate import upgrade
from postdesk.store.models import Contact, Message, Ticket
from postdesk.store.session import open_store
from postdesk.templates.render import MailTemplates
from postdesk.triage.response_times import expected_response
from postdesk.triage.rules import decide

WORDS = ["kein Zugriff", "komme nicht mehr", "locked out", "server down", "Kündigung", "Rechnung"]
RULES = [
    {"name": f"rule-{n}", "match": {"any_words": [word, f"{word} {n}"]}, "set": {"priority": "high"}}
    for n, word in enumerate(WORDS * 2)
]
SETTINGS = Settings.model_validate(
    {
        "queues": [
            {
                "name": "support",
                "addresses": ["support@example.com"],
                "hours": "Mo-Fr 08:00-18:00",
                "timezone": "Europe/Berlin",
            },
            {"name": "billing", "addresses": ["billing@example.com"]},
        ],
        "triage": {"rules": RULES},
    }
)


def fill(session, days: int, per_day: int, now: datetime) -> None:
    rnd = random.Random(7)
    contact = Contact(email="history@example.net", name="", created_at=now)
    session.add(contact)
    session.flush()
    for n in range(days * per_day):
        created = now - timedelta(days=rnd.uniform(0, days))
        ticket = Ticket(
            subject="history",
            status="closed",
            contact_id=contact.id,
            language="de",
            created_at=created,
            updated_at=created,
            priority=rnd.choice(["normal", "normal", "high", "urgent"]),
            queue="support",
            first_response_due=created + timedelta(hours=24),
            closed_at=created + timedelta(hours=30),
        )
        session.add(ticket)
        session.flush()
        answered = created + timedelta(hours=rnd.expovariate(1 / 3))
        session.add(
            Message(
                ticket_id=ticket.id,
                direction="out",
                kind="agent_reply",
                message_id=f"h{n}@bench",
                from_email="support@example.com",
                to_email=contact.email,
                created_at=answered,
            )
        )
        if n % 1000 == 999:
            progress(f"history {n + 1}/{days * per_day}")


def timed(label: str, runs: int, call) -> None:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    median, p90 = statistics.median(times), statistics.quantiles(times, n=10)[8]
    print(f"{label}: median {median:.2f} ms, p90 {p90:.2f} ms over {runs} runs")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--mails", type=int, default=500)
    options = parser.parse_args()
    print(f"machine: {machine()}")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(store)
        with store.transaction() as session:
            fill(session, options.days, options.per_day, now)
        print(f"history: {options.days * options.per_day} answered tickets over {options.days} days")
        mails = [parse_mail(raw) for raw in realistic_mails(options.mails)]
        with store.transaction() as session:
            env = StageEnv(session, SETTINGS, now, b"bench", MailTemplates())
            inbound = InboundMessage(0, now, "bench", "bench@example.net", ("support@example.com",), b"")
            works = iter([Work(inbound=inbound, mail=mail, kind="customer") for mail in mails] * 2)
            timed(
                f"triage decision ({len(RULES)} rules)",
                options.mails,
                lambda: decide(next(works), env.session, env.settings),
            )
            timed(
                "expected response sentence",
                200,
                lambda: expected_response(
                    session, SETTINGS, queue="support", priority="normal", now=now, language="de"
                ),
            )
            since = now - timedelta(days=30)
            zone = ZoneInfo("Europe/Berlin")
            timed(
                "stats over 30 days",
                5,
                lambda: collect(session, since=since, until=now, timezone=zone, queue=None),
            )
        store.dispose()


if __name__ == "__main__":
    main()
