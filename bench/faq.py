"""FAQ suggestions: index build time, query latency, and precision on the labelled set.

    .venv/bin/python bench/faq.py [--copies 50] [--queries 2000]

- tunes [faq] min_score / min_share_of_best on the odd-numbered mails of
  tests/data/faq/mails.yaml and reports precision@3, recall and the share of
  no-answer mails left without suggestion on the even-numbered (held-out) ones;
- times building the in-memory index (what each worker does at start) for the
  shipped faq/ folder and for COPIES times as many entries;
- times one acknowledgement's lookup (reply split, language guess, BM25 search)
  over the labelled mails, QUERIES lookups in all.
Bounded: a few seconds on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from common import REPO, machine
from postdesk.config.model import FaqSettings
from postdesk.faq.entries import load_folder
from postdesk.faq.evaluate import evaluate, load_mails, tune
from postdesk.faq.index import FaqIndex
from postdesk.faq.suggest import find_suggestions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    entries = load_folder(REPO / "faq")
    mails = load_mails(REPO / "tests" / "data" / "faq" / "mails.yaml")
    index = FaqIndex(entries)
    shipped = FaqSettings()
    tune_set = [m for m in mails if m.split == "tune"]
    test_set = [m for m in mails if m.split == "test"]
    chosen, on_tune = tune(index, tune_set, shipped)
    print(
        f"entries: {len(entries)}; mails: {len(mails)} ({sum(not m.answers for m in mails)} without answer)"
    )
    print(
        f"tuned on {len(tune_set)} mails: min_score {chosen.min_score}, share {chosen.min_share_of_best} "
        f"(shipped defaults: {shipped.min_score}, {shipped.min_share_of_best})"
    )
    for name, subset in (("tune", tune_set), ("test", test_set), ("all", list(mails))):
        s = evaluate(index, subset, shipped)
        print(
            f"  {name:4} {s.mails:3} mails: precision@3 {s.precision_at_3:.3f} ({s.correct}/{s.suggested}), "
            f"recall {s.recall:.3f} ({s.answered}/{s.answerable}), "
            f"no suggestion on no-answer mails {s.no_suggestion_share:.3f} "
            f"({s.silent_on_no_answer}/{s.no_answer})"
        )
    for copies in (1, args.copies):
        many = [replace(e, id=f"{e.id}-{n}") for n in range(copies) for e in entries]
        times = []
        for _ in range(5):
            start = time.perf_counter()
            FaqIndex(many)
            times.append(time.perf_counter() - start)
        print(f"index build, {len(many):5} entries: median {statistics.median(times) * 1000:.1f} ms of 5")
    latencies = []
    for n in range(args.queries):
        mail = mails[n % len(mails)]
        start = time.perf_counter()
        find_suggestions(index, mail.subject, mail.text, "de", shipped)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(
        f"lookup per mail ({len(latencies)} lookups, {len(entries)} entries): "
        f"median {statistics.median(latencies) * 1000:.2f} ms, "
        f"p95 {latencies[int(0.95 * len(latencies))] * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
