"""How well the built-in urgency rules (src/postdesk/triage/default_rules.toml) find
urgent mail, on real words.

    .venv/bin/python bench/urgency.py [--split test] [--corpus ../shared/corpus] [--json] [--show N]

banking77: real customer questions to a bank, each with a topic; the topics a bank
treats as urgent are listed, each with why, in tests/data/banking77_urgent.toml. A
question counts as flagged when the defaults give it "high" or "urgent". Prints the
precision and recall of that flag on SPLIT (the rules were tuned on train.csv only;
report test.csv), and the urgent topics' recall one by one.

Zammad: every whole mail of zammad/test/data/mail, parsed and classified as the desk
does; prints how many the defaults flag, with subject and rule, for checking by hand.
Machine mail (bounces, auto-replies) is never flagged, as in the desk.
"""

from __future__ import annotations

import argparse
import csv
import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import CORPUS, REPO
from postdesk.classify.kind import classify
from postdesk.config.model import PRIORITIES, TriageSettings
from postdesk.core.kinds import MACHINE_KINDS
from postdesk.core.mail import Mail
from postdesk.parse.mime import parse_mail
from postdesk.triage.defaults import effective_rules
from postdesk.triage.rules import own_words, rank, rule_matches

URGENT_TOPICS = REPO / "tests" / "data" / "banking77_urgent.toml"
FLAGGED = rank("high")


@dataclass(frozen=True)
class Verdict:
    priority: str
    rules: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return rank(self.priority) >= FLAGGED


def verdict(mail: Mail, triage: TriageSettings) -> Verdict:
    """The priority the rules give MAIL (machine mail: none), as triage reads them."""
    text, best, hits = own_words(mail), "normal", []
    for sourced in effective_rules(triage):
        rule = sourced.rule
        if rule.set.priority and rule_matches(rule.match, mail.subject, text, mail.sender_email) is not None:
            hits.append(rule.name)
            best = max(best, rule.set.priority, key=PRIORITIES.index)
    return Verdict(best, tuple(hits))


def banking(corpus: Path, split: str, triage: TriageSettings) -> dict[str, Any]:
    urgent = tomllib.loads(URGENT_TOPICS.read_text(encoding="utf-8"))["urgent"]
    with (corpus / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    counts: Counter[tuple[bool, bool]] = Counter()
    per_topic: Counter[str] = Counter()
    misses, false_alarms = [], []
    for row in rows:
        mail = Mail(message_id=None, subject="", from_=None, text=row["text"])
        flagged, wanted = verdict(mail, triage).flagged, row["category"] in urgent
        counts[(flagged, wanted)] += 1
        if flagged and wanted:
            per_topic[row["category"]] += 1
        elif wanted:
            misses.append(f"{row['category']}: {row['text']}")
        elif flagged:
            false_alarms.append(
                f"{row['category']}: {row['text']} [{', '.join(verdict(mail, triage).rules)}]"
            )
    true_pos, flagged_all = counts[(True, True)], counts[(True, True)] + counts[(True, False)]
    wanted_all = true_pos + counts[(False, True)]
    topic_sizes = Counter(row["category"] for row in rows if row["category"] in urgent)
    return {
        "split": split,
        "questions": len(rows),
        "urgent_questions": wanted_all,
        "flagged": flagged_all,
        "precision": round(true_pos / flagged_all, 3) if flagged_all else 0.0,
        "recall": round(true_pos / wanted_all, 3) if wanted_all else 0.0,
        "recall_by_topic": {t: round(per_topic[t] / n, 3) for t, n in sorted(topic_sizes.items())},
        "misses": misses,
        "false_alarms": false_alarms,
    }


def zammad(corpus: Path, triage: TriageSettings) -> dict[str, Any]:
    boxes = sorted((corpus / "zammad" / "test" / "data" / "mail").glob("mail*.box"))
    flagged = []
    for box in boxes:
        mail = parse_mail(box.read_bytes())
        kind = classify(mail, mail.sender_email or None, frozenset()).kind
        if kind in MACHINE_KINDS:
            continue
        found = verdict(mail, triage)
        if found.flagged:
            flagged.append(
                {
                    "file": box.name,
                    "subject": mail.subject,
                    "priority": found.priority,
                    "rules": list(found.rules),
                }
            )
    return {"mails": len(boxes), "flagged": len(flagged), "flagged_mails": flagged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--show", type=int, default=0, help="print up to N misses and false alarms")
    args = parser.parse_args()
    triage = TriageSettings()
    figures = {"banking77": banking(args.corpus, args.split, triage), "zammad": zammad(args.corpus, triage)}
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    bank, mails = figures["banking77"], figures["zammad"]
    print(f"banking77 {bank['split']}.csv: {bank['questions']} questions, {bank['urgent_questions']} urgent")
    print(
        f"  flagged high or above: {bank['flagged']}; precision {bank['precision']}, recall {bank['recall']}"
    )
    for topic, recall in bank["recall_by_topic"].items():
        print(f"    {topic:<40} recall {recall}")
    for label in ("misses", "false_alarms"):
        for line in bank[label][: args.show]:
            print(f"  {label[:-2] if label == 'misses' else 'false alarm'}: {line}")
    print(f"zammad: {mails['mails']} mails, {mails['flagged']} flagged high or above")
    for hit in mails["flagged_mails"]:
        print(f"  {hit['file']}: {hit['priority']} {hit['subject']!r} [{', '.join(hit['rules'])}]")


if __name__ == "__main__":
    main()
