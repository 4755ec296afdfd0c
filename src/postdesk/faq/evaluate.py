"""Precision of the suggestions on a labelled set of mails (tests/data/faq, docs/faq.md).

precision@3 is counted over what customers would see: of all entries
suggested (at most 3 a mail, only those above the thresholds), the share
that answer the mail. A suggestion on a mail no entry answers counts as
wrong. Alongside: the share of no-answer mails that get no suggestion, and
the share of answerable mails that get at least one right one (recall).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Query:
    """One line of a `faq eval --queries` file: a question and the entries that answer it."""

    line: int
    text: str
    answers: frozenset[str]
    language: str | None = None


class QueriesError(ValueError):
    """A queries file that cannot be read; the message names the file and line."""


def load_queries(path: Path) -> tuple[Query, ...]:
    """The questions of a JSON-lines file: `{"text": ..., "answers": [ids], "lang": "en"}` a line.

    `answers` [] marks a question the FAQ does not cover; `lang` is optional
    (the desk's language decision is taken without it). Blank lines are skipped."""
    import json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise QueriesError(f"{path}: cannot read: {error}") from None
    queries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise QueriesError(f"{path}:{number}: not JSON: {error.msg}") from None
        text, answers, language = (
            (row.get("text"), row.get("answers"), row.get("lang")) if isinstance(row, dict) else (None,) * 3
        )
        if not isinstance(text, str) or not text.strip():
            raise QueriesError(f'{path}:{number}: expected {{"text": "...", "answers": [...]}} with a text')
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise QueriesError(f'{path}:{number}: "answers" must be a list of entry ids ([] = not covered)')
        if language is not None and not isinstance(language, str):
            raise QueriesError(f'{path}:{number}: "lang" must be a language code such as "en"')
        queries.append(Query(number, text, frozenset(answers), language))
    if not queries:
        raise QueriesError(f"{path}: no questions in it")
    return tuple(queries)


def query_figures(
    index: FaqIndex,
    queries: Iterable[Query],
    settings: FaqSettings,
    language_of: Callable[[Query], str],
) -> dict[str, Any]:
    """The figures `faq eval` prints, and per question what an acknowledgement would offer.

    offered_precision: of all entries offered, the share that answer their
    question; coverage: answerable questions offered anything; wrong_rate:
    questions offered only wrong entries; silent_on_uncovered: questions the
    FAQ does not cover that get nothing; p_at_1 / hit_at_3 / mrr_at_10: the
    ranking with the thresholds off, over answerable questions."""
    questions = []
    offered = right = covered = wrong = silent = top1 = top3 = 0
    reciprocal = 0.0
    queries = tuple(queries)
    for query in queries:
        language = language_of(query)
        hits = index.search(query.text, language, 10)
        found = [s.id for s in find_suggestions(index, "", query.text, language, settings)]
        good = [entry_id for entry_id in found if entry_id in query.answers]
        offered += len(found)
        right += len(good)
        wrong += bool(found) and not good
        ranked = [hit.entry.id for hit in hits]
        if query.answers:
            covered += bool(found)
            rank = next((i for i, entry_id in enumerate(ranked, 1) if entry_id in query.answers), None)
            top1 += rank == 1
            top3 += rank is not None and rank <= 3
            reciprocal += 1 / rank if rank else 0.0
        else:
            silent += not found
        questions.append(
            {
                "line": query.line,
                "language": language,
                "answers": sorted(query.answers),
                "offered": found,
                "top10": [{"id": hit.entry.id, "score": round(hit.score, 3)} for hit in hits],
            }
        )
    answerable = sum(bool(query.answers) for query in queries)
    uncovered = len(queries) - answerable

    def share(part: float, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    return {
        "questions": len(queries),
        "answerable": answerable,
        "not_covered": uncovered,
        "offered_precision": share(right, offered),
        "coverage": share(covered, answerable),
        "wrong_rate": share(wrong, len(queries)),
        "silent_on_uncovered": share(silent, uncovered),
        "p_at_1": share(top1, answerable),
        "hit_at_3": share(top3, answerable),
        "mrr_at_10": share(reciprocal, answerable),
        "per_question": questions,
    }
