"""The dedupe decision on a big store: blocking keeps it in milliseconds.

    .venv/bin/python bench/dedupe.py [--tickets 1000000] [--open 100000] [--mails 1000]

Builds a SQLite store with TICKETS tickets (each with its first message and
its normalised dedupe entry), OPEN of them open and within the rules'
windows, the rest closed and older, bulk-inserted with Core executemany.
Then, as a worker does on start, rebuilds the candidate index from the
store, and times the dedupe decision (blocking, reading the candidates'
tickets, scoring with the default rules) for MAILS new mails: half repeat
an open ticket's request from the same sender in other words, half are new.

Prints: build time, index rebuild time, the index's memory (its
Python allocations, tracemalloc), decision p50/p99/max, and what was decided.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import machine, progress
from postdesk.config.model import Settings
from postdesk.dedupe.normalise import NormalMail
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.stages.dedupe import build_index, decide_for, new_index
from postdesk.store.migrate import upgrade
from postdesk.store.session import open_store
from postdesk.templates.render import MailTemplates

BATCH = 20_000


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    """Words with a support mail's spread: few very common, most rare (Zipf-like sampling below)."""
    syllables = [
        "ver",
        "trag",
        "post",
        "fach",
        "kon",
        "to",
        "rech",
        "nung",
        "ser",
        "ver",
        "dom",
        "ain",
        "zer",
        "ti",
        "fi",
        "kat",
        "pass",
        "wort",
        "mail",
        "web",
        "seite",
        "back",
        "up",
        "lo",
        "gin",
        "tarif",
    ]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_weights(size: int) -> list[float]:
    """Cumulative weights 1/rank: a few words are in many mails, most in few (as in real text)."""
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1 / rank
        cumulative.append(total)
    return cumulative


def text(rng: random.Random, words: list[str], count: int, weights: list[float]) -> str:
    return " ".join(rng.choices(words, cum_weights=weights, k=count))


def _when(value: datetime) -> str:
    # How SQLAlchemy stores a UTC datetime in SQLite (the models' UTCDateTime).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def build(url: str, tickets: int, open_count: int, now: datetime, rng: random.Random) -> list[dict]:
    """Bulk insert with the driver's executemany (SQLite): what `insert()` with many rows compiles to,
    without building a dict per row."""
    store = open_store(url, synchronous="OFF")
    upgrade(store)
    words = vocabulary(rng)
    weights = zipf_weights(len(words))
    contacts = max(tickets // 5, open_count // 2 + 1)
    open_rows: list[dict] = []
    started = time.perf_counter()
    old = _when(now - timedelta(days=400))
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO contacts (id, email, name, created_at, vip) VALUES (?, ?, ?, ?, 0)",
            [(n + 1, f"c{n}@customer{n % 997}.example", f"Customer {n}", old) for n in range(contacts)],
        )
        for first in range(0, tickets, BATCH):
            ticket_rows, message_rows, entry_rows = [], [], []
            for n in range(first, min(first + BATCH, tickets)):
                is_open = n >= tickets - open_count
                created = (
                    now - timedelta(seconds=rng.randint(60, 70 * 3600))
                    if is_open
                    else now - timedelta(days=rng.randint(4, 365))
                )
                when = _when(created)
                # Open tickets: about two per customer, the rest spread over all customers.
                contact = (n - (tickets - open_count)) // 2 + 1 if is_open else rng.randint(1, contacts)
                sender = f"c{contact - 1}@customer{(contact - 1) % 997}.example"
                subject = text(rng, words, 4, weights)
                body = text(rng, words, 40, weights)
                ticket_id = 10001 + n
                ticket_rows.append(
                    (
                        ticket_id,
                        subject,
                        "open" if is_open else "closed",
                        contact,
                        when,
                        when,
                        None if is_open else when,
                    )
                )
                message_rows.append((n + 1, ticket_id, f"m{n}@bench", sender, subject, body, when))
                entry_rows.append((n + 1, n + 1, ticket_id, sender, subject, body, when))
                if is_open:
                    open_rows.append({"sender": sender, "subject": subject, "body": body})
            conn.exec_driver_sql(
                "INSERT INTO tickets (id, subject, status, contact_id, language, created_at, updated_at, "
                "closed_at, priority, queue, level, callback) VALUES (?, ?, ?, ?, 'de', ?, ?, ?, 'normal', "
                "'support', 1, 0)",
                ticket_rows,
            )
            conn.exec_driver_sql(
                "INSERT INTO messages (id, ticket_id, direction, kind, message_id, from_email, from_name, "
                'to_email, cc, subject, text, html_converted, created_at, "references", defects, '
                "threaded_by) "
                "VALUES (?, ?, 'in', 'customer', ?, ?, '', 'support@example.com', '[]', ?, ?, 0, ?, '[]', "
                "'[]', 'new')",
                message_rows,
            )
            conn.exec_driver_sql(
                "INSERT INTO dedupe_entries (id, message_row_id, ticket_id, sender, subject, body, quoted, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                entry_rows,
            )
            if (first // BATCH) % 10 == 0:
                progress(f"  {first + len(ticket_rows):,} tickets ({time.perf_counter() - started:.0f} s)")
    store.dispose()
    return open_rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--mails", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(5)
    now = datetime.now(UTC)
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="postdesk-bench-dedupe-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        progress(f"building {args.tickets:,} tickets ({args.open:,} open within the window) …")
        started = time.perf_counter()
        open_rows = build(url, args.tickets, args.open, now, rng)
        built = time.perf_counter() - started
        store = open_store(url)

        progress("rebuilding the index from the store …")
        started = time.perf_counter()
        index = build_index(store, settings, now)  # as `serve` does on start
        rebuilt = time.perf_counter() - started
        loaded = len(index)
        # The index's memory: what a second, identical build keeps allocated (tracemalloc counts
        # every Python allocation; RSS would also count what the first build freed to the allocator).
        tracemalloc.start()
        with store.read() as session:
            twin = new_index(settings, is_sqlite=True)
            twin.load(session, now)
            memory, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del twin

        progress(f"timing {args.mails} decisions …")
        timings, cpu_times, actions = [], [], {"new": 0, "merge": 0, "cluster": 0, "flag": 0}
        words = vocabulary(random.Random(5))
        weights = zipf_weights(len(words))
        with store.read() as session:
            env = StageEnv(session, settings, now, b"bench", MailTemplates())
            for n in range(args.mails):
                if n % 2 == 0:
                    # A repeat: an open ticket's sender asks again, dropping a few words, adding others.
                    row = rng.choice(open_rows)
                    kept = row["body"].split()
                    rng.shuffle(kept)
                    body = " ".join(kept[:34] + text(rng, words, 4, weights).split())
                    mail, sender = NormalMail(row["subject"], body, ""), row["sender"]
                else:
                    mail = NormalMail(text(rng, words, 4, weights), text(rng, words, 40, weights), "")
                    sender = f"new{n}@elsewhere.example"
                started, cpu = time.perf_counter(), time.process_time()
                decision = decide_for(mail, sender, env, index, settings.dedupe.rules)
                timings.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - cpu)
                actions[decision.action] += 1
        store.dispose()

    timings.sort()
    cpu_times.sort()
    ms = [t * 1000 for t in timings]
    cpu_ms = [t * 1000 for t in cpu_times]
    print(f"machine: {machine()}")
    print(
        f"store: {args.tickets:,} tickets, {args.open:,} open in the window; built in {built:.0f} s "
        f"({args.tickets * 3 / built:,.0f} rows/s, Core executemany)"
    )
    print(
        f"index rebuild on start: {loaded:,} entries in {rebuilt:.1f} s; memory {memory / 2**20:.0f} MiB "
        f"(tracemalloc)"
    )
    print(
        f"decision ({args.mails} mails, {len(settings.dedupe.rules)} default rules): "
        f"p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms, max {ms[-1]:.2f} ms "
        f"wall clock; CPU time p50 {statistics.median(cpu_ms):.2f} ms, "
        f"p99 {cpu_ms[int(len(cpu_ms) * 0.99) - 1]:.2f} ms"
    )
    print(f"decided: {actions}")


if __name__ == "__main__":
    main()
