"""FAQ suggestions on real customer questions: banking77 (issue 22.5).

    .venv/bin/python bench/faq_banking77.py [--corpus ../shared/corpus] [--json]

bench/data/banking77_faq.toml holds a bank FAQ written from the topic names
alone: 62 entries, and 15 topics left out as "not covered". Every question of
banking77's train.csv and test.csv becomes a `faq eval` question (answers:
its topic's entry, or none for a left-out topic) and goes through the same
call an acknowledgement makes (`faq.evaluate.query_figures`, English).
Prints the figures with the shipped `[faq]` thresholds on both splits, then
picks `min_score` on train.csv alone (the lowest that keeps offered
precision ≥ 0.85) and reports test.csv at that setting. Never tuned on test.
"""

from __future__ import annotations

import argparse
import csv
import json
import tomllib
from pathlib import Path
from typing import Any

from common import CORPUS, REPO
from postdesk.config.model import FaqSettings
from postdesk.faq.entries import Entry
from postdesk.faq.evaluate import Query, query_figures
from postdesk.faq.index import FaqIndex

FAQ = REPO / "bench" / "data" / "banking77_faq.toml"
SUMMARY = (
    "offered_precision",
    "coverage",
    "wrong_rate",
    "silent_on_uncovered",
    "p_at_1",
    "hit_at_3",
    "mrr_at_10",
)
MIN_SCORES = tuple(x / 2 for x in range(4, 25))  # 2.0 … 12.0
TARGET_PRECISION = 0.85


def entries() -> tuple[tuple[Entry, ...], frozenset[str]]:
    data = tomllib.loads(FAQ.read_text(encoding="utf-8"))
    made = tuple(
        Entry(
            id=f"en/{topic}",
            language="en",
            title=title,
            body=body,
            tags=tuple(t.strip() for t in tags.split(",")),
        )
        for topic, (title, tags, body) in data["entries"].items()
    )
    return made, frozenset(data["not_covered"])


def questions(corpus: Path, split: str, covered: set[str]) -> tuple[Query, ...]:
    with (corpus / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(
        Query(n, row["text"], frozenset({f"en/{row['category']}"} & covered), "en")
        for n, row in enumerate(rows, 2)
    )


def summary(index: FaqIndex, queries: tuple[Query, ...], settings: FaqSettings) -> dict[str, Any]:
    figures = query_figures(index, queries, settings, lambda query: query.language or "en")
    figures.pop("per_question")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    made, not_covered = entries()
    index = FaqIndex(made)
    covered = {entry.id for entry in made}
    train, test = (questions(options.corpus, split, covered) for split in ("train", "test"))
    shipped = FaqSettings()
    result: dict[str, Any] = {
        "entries": len(made),
        "not_covered_topics": len(not_covered),
        "shipped": {"train": summary(index, train, shipped), "test": summary(index, test, shipped)},
    }
    tuned = None
    for min_score in MIN_SCORES:
        settings = shipped.model_copy(update={"min_score": min_score})
        on_train = summary(index, train, settings)
        if (on_train["offered_precision"] or 0) >= TARGET_PRECISION:
            tuned = {"min_score": min_score, "train": on_train, "test": summary(index, test, settings)}
            break
    result["tuned_on_train"] = tuned
    if options.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{len(made)} entries, {len(not_covered)} topics not covered; "
        f"banking77 train {len(train)}, test {len(test)}"
    )
    rows = [("shipped", "train", result["shipped"]["train"]), ("shipped", "test", result["shipped"]["test"])]
    if tuned:
        rows += [(f"min_score {tuned['min_score']}", split, tuned[split]) for split in ("train", "test")]
    print(f"{'setting':<16} {'split':<6} " + " ".join(f"{key:>19}" for key in SUMMARY))
    for setting, split, figures in rows:
        print(f"{setting:<16} {split:<6} " + " ".join(f"{figures[key]:>19}" for key in SUMMARY))
    if not tuned:
        print(f"no min_score reaches offered precision {TARGET_PRECISION} on train")


if __name__ == "__main__":
    main()
