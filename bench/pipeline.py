"""Pipeline throughput: parse → classify → thread → store → acknowledgement
queued, on one worker with SQLite, for the same realistic mails as ingest.

    .venv/bin/python bench/pipeline.py [--mails 2000]

The mails are put into the spool first (not timed), then one worker
processes them all; the figure is messages per second of that worker, and
messages per CPU second (steadier on a shared machine), and the
process's peak RSS. Below it, the milliseconds per mail of each stage
(what the serve metrics export as `postdesk_stage_seconds`); "outside the
stages" is reading the spool, claiming, marking done and committing.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import machine, progress, realistic_mails
from postdesk.config import load_settings
from postdesk.ops.metrics import NoMetrics
from postdesk.receive.spool import Received, spool_messages
from postdesk.runtime.desk import open_desk


@dataclass(frozen=True)
class StageClock(NoMetrics):
    """Sums each stage's seconds over the run."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=2000)
    options = parser.parse_args()
    mails = realistic_mails(options.mails)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            {
                "POSTDESK_STORE__URL": f"sqlite:///{tmp}/postdesk.db",
                "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{Path(tmp) / 'outbox'}",
            },
        )
        desk = open_desk(settings, migrate=True, synchronous="NORMAL")
        for start in range(0, len(mails), 500):
            spool_messages(
                desk.store,
                [
                    Received(
                        raw=raw,
                        via="bench",
                        envelope_from="bench@example.net",
                        recipients=("support@example.com",),
                    )
                    for raw in mails[start : start + 500]
                ],
            )
        clock = StageClock()
        processor = desk.processor(clock)
        began, began_cpu = time.perf_counter(), time.process_time()
        done = 0
        while True:
            count = processor.process_pending(limit=250)
            if not count:
                break
            done += count
            progress(f"processed {done}/{len(mails)}")
        seconds = time.perf_counter() - began
        # CPU time is the steadier figure on a shared machine: wall time
        # also counts the time other processes held the cores.
        cpu_seconds = time.process_time() - began_cpu
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"pipeline, 1 worker, SQLite: {done} mails in {seconds:.2f} s = {done / seconds:.0f} msgs/s; "
            f"{done / cpu_seconds:.0f} msgs per CPU second; peak RSS {rss_mib:.0f} MiB"
        )
        print("ms per mail, by stage:")
        for stage, spent in sorted(clock.seconds.items(), key=lambda item: -item[1]):
            if spent * 1000 / done >= 0.05:
                print(f"  {stage:24s} {spent * 1000 / done:6.2f}")
        outside = seconds - sum(clock.seconds.values())
        print(f"  {'(outside the stages)':24s} {outside * 1000 / done:6.2f}")


if __name__ == "__main__":
    main()
