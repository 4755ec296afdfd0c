"""Scoring and deciding: which rule, if any, says a new mail repeats an earlier one.

Rules (``[[dedupe.rules]]``) are tried in order. For each, the candidates
within its window and scope are scored with its rapidfuzz scorer on its
fields; the first rule whose best candidate reaches its threshold decides.
Everything here is plain functions over values, so `replay` and the
evaluation set run exactly what the pipeline runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz

from postdesk.config.model import DedupeRule
from postdesk.core.hours import parse_duration
from postdesk.dedupe.index import STOPWORDS, Entry
from postdesk.dedupe.normalise import NormalMail

# A repeat that only says "any news? see below" is compared on the mail it quotes or forwards.
SHORT_BODY_WORDS = 12

Scorer = Callable[[str, str], float]


def scorer(name: str) -> Scorer:
    """The rapidfuzz scorer NAME (validated by the config model)."""
    found: Scorer = getattr(fuzz, name)
    return found


@dataclass(frozen=True, slots=True)
class Scored:
    """One candidate under one rule."""

    rule: str
    ticket_id: int
    entry_id: int
    score: float
    verdict: str  # "match", "below threshold", or why it was ruled out

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "ticket_id": self.ticket_id,
            "entry_id": self.entry_id,
            "score": round(self.score, 1),
            "verdict": self.verdict,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a new mail: action new | merge | cluster | flag, and why."""

    action: str
    rule: str = ""
    ticket_id: int | None = None  # the earlier ticket it repeats or resembles
    score: float | None = None
    reason: str = "no rule matched"
    candidates: tuple[Scored, ...] = ()
    window_hours: float = 0.0  # the deciding rule's window (the duplicate notice's "once per window")


@lru_cache(maxsize=64)
def window_of(window: str) -> timedelta:
    return parse_duration(window)


@lru_cache(maxsize=8192)  # the same earlier mails are compared again and again
def compared_text(mail: NormalMail, fields: tuple[str, ...]) -> str:
    """The rule's fields, joined, without stopwords (they make any two mails of one language alike)."""
    text = " ".join(mail.field(name) for name in fields if mail.field(name))
    return " ".join(word for word in text.split() if len(word) > 2 and word not in STOPWORDS)


def score_pair(rule: DedupeRule, new: NormalMail, earlier: NormalMail) -> tuple[float, str]:
    """How alike NEW reads to EARLIER under RULE (0-100), and a verdict when it is ruled out."""
    if rule.numbers_must_match:
        mine, theirs = new.identifiers(), earlier.identifiers()
        if mine and theirs and not mine & theirs:
            return 0.0, f"different numbers ({', '.join(sorted(mine))} vs {', '.join(sorted(theirs))})"
    score_with = scorer(rule.scorer)
    target = compared_text(earlier, rule.fields)
    text = compared_text(new, rule.fields)
    if not text or not target:
        return 0.0, "nothing to compare"
    best = score_with(text, target)
    if "body" in rule.fields and new.quoted and len(new.body.split()) <= SHORT_BODY_WORDS:
        # "Any news on this? (old mail below)": the quoted mail is what is being asked again.
        carried = NormalMail(new.subject, new.quoted, "")
        best = max(best, score_with(compared_text(carried, rule.fields), target))
    return best, ""


def decide(
    new: NormalMail,
    sender: str,
    now: datetime,
    rules: Sequence[DedupeRule],
    candidates_for: Callable[[DedupeRule], Iterable[Entry]],
    allowed: Callable[[DedupeRule, Entry], str] = lambda rule, entry: "",
    score: Callable[[DedupeRule, NormalMail, NormalMail], tuple[float, str]] = score_pair,
) -> Decision:
    """Try RULES in order over the candidates each gets from CANDIDATES_FOR.

    ALLOWED says why a candidate may not be used (a closed ticket, an unmerge
    label); "" when it may. SCORE is `score_pair`, or a memo of it when the
    same pairs are decided on twice.
    """
    scored: list[Scored] = []
    for rule in rules:
        since = now - window_of(rule.window)
        best: Scored | None = None
        seen: set[int] = set()
        for entry in candidates_for(rule):
            if entry.created_at < since or entry.id in seen:
                continue
            seen.add(entry.id)
            if rule.scope == "same_sender" and entry.sender != sender:
                continue
            similarity, verdict = score(rule, new, entry.mail)
            if not verdict:
                verdict = allowed(rule, entry)
            if not verdict:
                verdict = "match" if similarity >= rule.threshold else "below threshold"
            one = Scored(rule.name, entry.ticket_id, entry.id, similarity, verdict)
            scored.append(one)
            if verdict == "match" and (best is None or similarity > best.score):
                best = one
        if best is not None:
            window = window_of(rule.window).total_seconds() / 3600
            reason = (
                f"rule {rule.name!r}: ticket {best.ticket_id} scored {best.score:.1f} "
                f"with {rule.scorer} on {'+'.join(rule.fields)} (threshold {rule.threshold:g}, "
                f"{rule.scope}, window {rule.window})"
            )
            return Decision(
                rule.action, rule.name, best.ticket_id, best.score, reason, _ranked(scored), window
            )
    return Decision("new", candidates=_ranked(scored))


def _ranked(scored: list[Scored], keep: int = 20) -> tuple[Scored, ...]:
    return tuple(sorted(scored, key=lambda s: -s.score)[:keep])


@dataclass(frozen=True, slots=True)
class Pending:
    """The dedupe stage's result, carried to the filing stage after the message is stored."""

    mail: NormalMail
    sender: str
    decision: Decision
