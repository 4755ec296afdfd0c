"""Scale-out figures in one run: pipeline throughput on PostgreSQL with 1 and
2 worker processes and on SQLite with 1; SMTP ingest into PostgreSQL over 16
connections beside the bare aiosmtpd sink (bench/bare_smtp.py).

    .venv/bin/python bench/scale.py [--mails 1000] [--ingest-mails 2000] [--rounds 2]

PostgreSQL is the server at POSTDESK_TEST_PG_URL (default: the local one);
every measurement gets a new database, dropped afterwards. The mails are the
realistic ones of bench/common.py. Pipeline: the spool is filled first (not
timed), then the workers start together and the figure is messages per
second from their start until the last one finds nothing left.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TypeVar

from common import REPO, machine, progress, realistic_mails
from ingest import run_bare, run_postdesk

sys.path.insert(0, str(REPO / "tests"))
from pg_support import create_database, drop_database, unreachable_reason  # noqa: E402
from postdesk.config import load_settings  # noqa: E402
from postdesk.pipeline.worker import CLAIM_BATCH  # noqa: E402
from postdesk.receive.spool import Received, spool_messages  # noqa: E402
from postdesk.runtime.desk import open_desk  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")
_R = TypeVar("_R")
TARGET_TWO_WORKERS = 1.6  # × one worker
TARGET_INGEST = 0.40  # × the bare sink


def _settings(url: str, outbox: Path):  # type: ignore[no-untyped-def]
    return load_settings(
        None,
        {
            "POSTDESK_STORE__URL": url,
            "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{outbox}",
            "POSTDESK_DESK__SECRET": "bench",
            "POSTDESK_LOG__LEVEL": "warning",
            # The bench's mails come from few senders; the loop guard would
            # stop acknowledging them, and an acknowledgement is part of the work.
            "POSTDESK_REPLIES__MAX_ACKS_PER_SENDER_PER_HOUR": "100000",
        },
    )


def _worker(url: str, outbox: str, batch: int, go: Event, done: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    # Its own session, as a systemd service or a worker on another host has:
    # Linux's autogroup scheduler gives each session one share of the CPUs,
    # so workers left in the bench's session would split one share between
    # them and could not show what a second worker adds (docs/benchmarks.md).
    os.setsid()
    desk = open_desk(_settings(url, Path(outbox)), synchronous="NORMAL")
    processor = replace(desk.processor(), claim_batch=batch)
    go.wait()
    cpu = time.process_time()
    count = processor.process_pending()
    done.put((count, time.monotonic(), time.process_time() - cpu))
    desk.store.dispose()


def pipeline_rate(
    url: str, mails: list[bytes], workers: int, batch: int = CLAIM_BATCH
) -> tuple[float, float]:
    """Messages/s of WORKERS processes over MAILS already in the spool at URL,
    and the workers' CPU milliseconds per message (what the load of other
    processes on the machine does not change)."""
    with tempfile.TemporaryDirectory() as tmp:
        desk = open_desk(_settings(url, Path(tmp) / "outbox"), migrate=True)
        for start in range(0, len(mails), 250):
            spool_messages(
                desk.store,
                [
                    Received(raw, "bench", "bench@example.net", ("support@example.com",))
                    for raw in mails[start : start + 250]
                ],
            )
        desk.store.dispose()
        go, done = SPAWN.Event(), SPAWN.Queue()
        procs = [
            SPAWN.Process(target=_worker, args=(url, str(Path(tmp) / "outbox"), batch, go, done))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        time.sleep(3.0)  # let them import and connect before the clock starts
        began = time.monotonic()
        go.set()
        results = [done.get(timeout=900) for _ in procs]
        for proc in procs:
            proc.join()
        total = sum(count for count, _, _ in results)
        if total != len(mails):
            raise SystemExit(f"processed {total} of {len(mails)} mails")
        cpu_ms = sum(cpu for _, _, cpu in results) * 1000 / total
        return total / (max(end for _, end, _ in results) - began), cpu_ms


def with_database(measure: Callable[[str], _R]) -> _R:
    url = create_database()
    try:
        return measure(url)
    finally:
        drop_database(url)


PG1, PG2, LITE = (
    "pipeline PostgreSQL, 1 worker",
    "pipeline PostgreSQL, 2 workers",
    "pipeline SQLite, 1 worker",
)
BARE, INGEST = "ingest bare aiosmtpd", "ingest PostgreSQL (serve --no-process --no-send)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=400, help="mails per pipeline measurement")
    parser.add_argument("--ingest-mails", type=int, default=2000, help="mails per ingest measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--claim-batch", type=int, default=CLAIM_BATCH, help="rows a PostgreSQL worker claims per transaction"
    )
    options = parser.parse_args()
    reason = unreachable_reason()
    if reason:
        raise SystemExit(reason)
    mails = realistic_mails(options.mails)
    ingest_mails = realistic_mails(options.ingest_mails)
    size = sum(map(len, mails)) / len(mails) / 1024
    print(f"machine: {machine()}")
    print(
        f"pipeline: {len(mails)} mails (mean {size:.1f} KiB); ingest: {len(ingest_mails)} mails over "
        f"{options.connections} connections; {options.rounds} rounds, median shown; "
        f"PostgreSQL workers claim {options.claim_batch} per transaction"
    )
    rates: dict[str, list[float]] = {name: [] for name in (PG1, PG2, LITE, BARE, INGEST)}
    cpu: dict[str, list[float]] = {name: [] for name in (PG1, PG2, LITE)}
    for round_ in range(1, options.rounds + 1):
        # Interleaved, so a noisy neighbour hurts every contender alike.
        for name, workers in ((PG1, 1), (PG2, 2)):
            rate, cpu_ms = with_database(lambda u, w=workers: pipeline_rate(u, mails, w, options.claim_batch))
            rates[name].append(rate)
            cpu[name].append(cpu_ms)
        with tempfile.TemporaryDirectory() as tmp:
            rate, cpu_ms = pipeline_rate(f"sqlite:///{tmp}/p.db", mails, 1)
            rates[LITE].append(rate)
            cpu[LITE].append(cpu_ms)
        rates[BARE].append(run_bare(ingest_mails, options.connections))
        rates[INGEST].append(
            with_database(
                lambda u: run_postdesk(ingest_mails, options.connections, ["--no-process", "--no-send"], u)
            )
        )
        progress(f"round {round_}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
        progress(f"  load now: {machine()}")
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        spent = f"  worker CPU {statistics.median(cpu[name]):5.0f} ms/msg" if name in cpu else ""
        print(
            f"{name:<50} {median[name]:8.1f} msgs/s{spent}   rounds: " + " ".join(f"{v:.1f}" for v in values)
        )
    scaling = median[PG2] / median[PG1]
    ingest = median[INGEST] / median[BARE]
    print(f"PostgreSQL 2 workers / 1 worker: {scaling:.2f}x (target >= {TARGET_TWO_WORKERS}x)")
    print(f"durable ingest into PostgreSQL / bare sink: {ingest:.0%} (target >= {TARGET_INGEST:.0%})")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
