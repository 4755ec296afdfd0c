"""How well the language stage tells German from English, on real mail and on short mails.

    .venv/bin/python bench/language.py [--corpus ../shared/corpus] [--json]

The labels are in tests/data/language/labelled.toml: Zammad's real mails,
labelled by hand, and short customer mails written for it. Each text is
what the language stage judges (subject and newly written text, quote and
signature cut) and goes through the same `decide` call with a desk in
German with German and English templates and no Content-Language. Prints,
for mails of 10 words or more and for shorter ones: how often the
detector's likeliest language is the label, and how often the decision is
(a short or unclear mail falls back to the desk's German); then the time per
detection (median, model loaded once beforehand) and the model's load time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import CORPUS, REPO
from postdesk.language.detect import Detector, decide, word_count
from postdesk.parse.mime import parse_mail
from postdesk.parse.reply_text import split_reply
from postdesk.parse.subject import without_prefixes

LABELS = REPO / "tests" / "data" / "language" / "labelled.toml"
LONG = 10


@dataclass(frozen=True)
class Labelled:
    name: str
    language: str
    text: str


def labelled(corpus: Path) -> list[Labelled]:
    data = tomllib.loads(LABELS.read_text(encoding="utf-8"))
    mails = corpus / "zammad" / "test" / "data" / "mail"
    found = []
    for name, language in data["zammad"].items():
        mail = parse_mail((mails / f"{name}.box").read_bytes())
        text = f"{without_prefixes(mail.subject)}\n{split_reply(mail.text).new_text}"
        found.append(Labelled(f"zammad/{name}", language, text))
    for number, short in enumerate(data["short"], 1):
        found.append(Labelled(f"short/{number}", short["language"], short["text"]))
    return found


def figures(items: list[Labelled]) -> dict[str, Any]:
    detector = Detector()
    started = time.perf_counter()
    detector.load()
    load_ms = (time.perf_counter() - started) * 1000
    groups: dict[str, dict[str, int]] = {}
    wrong = []
    times = []
    for item in items:
        group = "long" if word_count(item.text) >= LONG else "short"
        counts = groups.setdefault(group, {"mails": 0, "detected_right": 0, "decided_right": 0})
        started = time.perf_counter()
        detected, probability = detector.detect(item.text)
        times.append((time.perf_counter() - started) * 1000)
        decision = decide(
            detector, item.text, None, answered_in=("de", "en"), desk_language="de", fallback_language="en"
        )
        counts["mails"] += 1
        counts["detected_right"] += detected == item.language
        counts["decided_right"] += decision.language == item.language
        if decision.language != item.language:
            wrong.append({"mail": item.name, "label": item.language, "decided": decision.reason})
    for counts in groups.values():
        counts["detected_accuracy"] = round(counts["detected_right"] / counts["mails"], 3)
        counts["decided_accuracy"] = round(counts["decided_right"] / counts["mails"], 3)
    return {
        "groups": groups,
        "wrong": wrong,
        "detect_ms_median": round(statistics.median(times), 3),
        "load_ms": round(load_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    result = figures(labelled(options.corpus))
    if options.json:
        print(json.dumps(result, indent=2))
        return
    for group, counts in sorted(result["groups"].items()):
        words = f"{LONG}+ words" if group == "long" else f"under {LONG} words"
        print(
            f"{words:<15} {counts['mails']:3d} mails  detected right {counts['detected_accuracy']:.3f}"
            f"  decided right {counts['decided_accuracy']:.3f}"
        )
    print(f"detection: {result['detect_ms_median']} ms median per mail; model load {result['load_ms']} ms")
    for miss in result["wrong"]:
        print(f"  {miss['mail']}: labelled {miss['label']}, {miss['decided']}")


if __name__ == "__main__":
    main()
