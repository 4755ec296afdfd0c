"""Precision and recall of each default dedupe rule on the labelled evaluation set (tests/data/dedupe)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

from postdesk.config.model import DEFAULT_DEDUPE_RULES
from postdesk.dedupe.replay import evaluate, load_eval_set

DATA = Path(__file__).parent / "data" / "dedupe"


def test_the_set_is_what_its_generator_makes() -> None:
    spec = importlib.util.spec_from_file_location("generate_dedupe", DATA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = [json.loads(line) for line in (DATA / "eval.jsonl").read_text().splitlines()]
    assert lines == module.generate()
    cases = Counter(line["case"] for line in lines)
    assert len(lines) >= 200 and Counter(line["lang"] for line in lines).keys() == {"de", "en"}
    for case in (
        "paraphrase",
        "urgent",
        "forward",
        "quoted",
        "other-concern",
        "other-invoice",
        "outage",
        "outage-next-week",
    ):
        assert cases[case] >= 8, case


def test_precision_and_recall_per_rule() -> None:
    mails = load_eval_set(DATA / "eval.jsonl")
    quality = {q.rule: q for q in evaluate(mails, DEFAULT_DEDUPE_RULES)}
    for q in quality.values():
        print(f"\n{q.line()}")
    merge = quality["same-sender-repeat"]
    # A wrong merge hides a customer's request: precision first.
    assert merge.precision >= 0.98 and merge.recall >= 0.90, merge.mistakes
    cluster = quality["incident-cluster"]
    assert cluster.precision >= 0.9 and cluster.recall >= 0.5, cluster.mistakes
    # The outages alone: many customers, one incident each (and the same outage a week later).
    outages = [m for m in mails if m.case.startswith("outage")]
    [incidents] = evaluate(outages, [DEFAULT_DEDUPE_RULES[1]])
    print(f"outages only: {incidents.line()}")
    assert incidents.precision >= 0.95 and incidents.recall >= 0.7, incidents.mistakes
