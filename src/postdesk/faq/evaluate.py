"""Precision of the suggestions on a labelled set of mails (tests/data/faq, docs/faq.md).

precision@3 is counted over what customers would see: of all entries
suggested (at most 3 a mail, only those above the thresholds), the share
that answer the mail. A suggestion on a mail no entry answers counts as
wrong. Alongside: the share of no-answer mails that get no suggestion, and
the share of answerable mails that get at least one right one (recall).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from postdesk.config.model import FaqSettings
from postdesk.faq.index import FaqIndex
from postdesk.faq.suggest import find_suggestions


@dataclass(frozen=True, slots=True)
class LabelledMail:
    id: int
    language: str
    subject: str
    text: str
    answers: frozenset[str]

    @property
    def split(self) -> str:
        """Odd ids tune the thresholds, even ids test them."""
        return "tune" if self.id % 2 else "test"


@dataclass(frozen=True, slots=True)
class Scores:
    mails: int
    answerable: int
    no_answer: int
    suggested: int  # entries suggested in all
    correct: int  # of those, entries that answer their mail
    answered: int  # answerable mails with at least one right suggestion
    silent_on_no_answer: int  # no-answer mails that got no suggestion

    @property
    def precision_at_3(self) -> float:
        return self.correct / self.suggested if self.suggested else 1.0

    @property
    def recall(self) -> float:
        return self.answered / self.answerable if self.answerable else 1.0

    @property
    def no_suggestion_share(self) -> float:
        return self.silent_on_no_answer / self.no_answer if self.no_answer else 1.0


def load_mails(path: Path) -> tuple[LabelledMail, ...]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        LabelledMail(
            id=int(row["id"]),
            language=row["lang"],
            subject=row["subject"],
            text=row["text"],
            answers=frozenset(row["answers"]),
        )
        for row in rows
    )


def evaluate(index: FaqIndex, mails: Iterable[LabelledMail], settings: FaqSettings) -> Scores:
    mails = tuple(mails)
    suggested = correct = answered = silent = 0
    for mail in mails:
        found = {s.id for s in find_suggestions(index, mail.subject, mail.text, mail.language, settings)}
        suggested += len(found)
        correct += len(found & mail.answers)
        answered += bool(found & mail.answers)
        silent += not mail.answers and not found
    answerable = sum(bool(mail.answers) for mail in mails)
    return Scores(len(mails), answerable, len(mails) - answerable, suggested, correct, answered, silent)


# The thresholds `tune` tries: BM25 scores of this index run from 0 to ~20.
MIN_SCORES = (3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0)
SHARES = (0.5, 0.75, 0.9)


def tune(
    index: FaqIndex,
    mails: Iterable[LabelledMail],
    base: FaqSettings,
    min_precision: float = 0.9,
    min_silent: float = 0.95,
) -> tuple[FaqSettings, Scores]:
    """The thresholds that answer the most mails while precision and silence on
    no-answer mails stay above MIN_PRECISION and MIN_SILENT (set above the
    targets, as a margin for mail unlike the tuning set).

    Ties go to the higher precision, then the stricter share of the best
    score, then the lower min_score. Tune on one part of a labelled set and
    report on the other.
    """
    mails = tuple(mails)
    candidates = []
    for min_score in MIN_SCORES:
        for share in SHARES:
            settings = base.model_copy(update={"min_score": min_score, "min_share_of_best": share})
            scores = evaluate(index, mails, settings)
            if scores.precision_at_3 >= min_precision and scores.no_suggestion_share >= min_silent:
                candidates.append(
                    ((scores.recall, scores.precision_at_3, share, -min_score), settings, scores)
                )
    if not candidates:
        raise ValueError("no thresholds reach the precision asked for on these mails")
    _, settings, scores = max(candidates, key=lambda c: c[0])
    return settings, scores
