"""Replaying rules over mail without changing anything: the evaluation set and stored history.

`evaluate` runs rules over a labelled list of mails exactly as the pipeline
would (normalisation, blocking, scoring) and counts, per rule, right and
wrong merges or clusters against the labels. `replay_history` does the same
over the store's received mail and says what the other rules would change,
scored against the decisions agents corrected (unmerge, clusters remove).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.config.model import DedupeRule
from postdesk.dedupe.index import CandidateIndex, Entry, proposed
from postdesk.dedupe.normalise import NormalMail, normalise_mail
from postdesk.dedupe.rules import Decision, decide
from postdesk.store.models import DedupeDecision, DedupeEntry, DedupeLabel


@dataclass(frozen=True, slots=True)
class LabelledMail:
    id: str
    sender: str
    at: datetime
    subject: str
    text: str
    concern: str  # a customer's two mails repeat each other exactly when their concerns are equal
    topic: str = ""  # different customers' mails belong in one cluster when their topics are equal
    case: str = ""


@dataclass(frozen=True, slots=True)
class Quality:
    """How a rule did: merges/clusters it made rightly and wrongly, and those it missed."""

    rule: str
    action: str
    true_positives: int
    false_positives: int
    false_negatives: int
    mistakes: tuple[str, ...] = ()

    @property
    def precision(self) -> float:
        made = self.true_positives + self.false_positives
        return self.true_positives / made if made else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    def line(self) -> str:
        return (
            f"{self.rule} ({self.action}): precision {self.precision:.3f}, recall {self.recall:.3f} "
            f"(right {self.true_positives}, wrong {self.false_positives}, missed {self.false_negatives})"
        )


def load_eval_set(path: Path) -> list[LabelledMail]:
    mails = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            mails.append(
                LabelledMail(
                    id=raw["id"],
                    sender=raw["sender"].lower(),
                    at=datetime.fromisoformat(raw["at"]),
                    subject=raw["subject"],
                    text=raw["text"],
                    concern=raw["concern"],
                    topic=raw.get("topic", raw["concern"]),
                    case=raw.get("case", ""),
                )
            )
    return sorted(mails, key=lambda m: (m.at, m.id))


def evaluate(
    mails: Sequence[LabelledMail],
    rules: Sequence[DedupeRule],
    ticket_tag: str = "Ticket#",
    normalised: dict[str, NormalMail] | None = None,
) -> list[Quality]:
    """Each rule on its own over MAILS (in time order): its precision and recall."""
    normal = normalised if normalised is not None else normalise_all(mails, ticket_tag)
    return [_evaluate_rule(mails, rule, normal) for rule in rules]


def normalise_all(mails: Iterable[LabelledMail], ticket_tag: str = "Ticket#") -> dict[str, NormalMail]:
    return {m.id: normalise_mail(m.subject, m.text, ticket_tag) for m in mails}


def _evaluate_rule(mails: Sequence[LabelledMail], rule: DedupeRule, normal: dict[str, NormalMail]) -> Quality:
    index = CandidateIndex(rule.window_delta)
    concern_of: dict[int, str] = {}  # entry → its label under this rule's scope
    tp = fp = fn = 0
    mistakes: list[str] = []
    for number, mail in enumerate(mails, 1):
        new = normal[mail.id]
        label = mail.concern if rule.scope == "same_sender" else mail.topic
        index.expire(mail.at)
        since = mail.at - rule.window_delta
        expected = any(
            concern_of[e.id] == label
            for e in (
                index.same_sender(mail.sender, since) if rule.scope == "same_sender" else index.entries()
            )
            if e.created_at >= since and (rule.scope == "same_sender" or e.sender != mail.sender)
        )
        decision = decide(
            new,
            mail.sender,
            mail.at,
            [rule],
            partial(proposed, index, mail=new, sender=mail.sender, now=mail.at),
        )
        made = decision.action != "new"
        right = False
        if made:
            best = max((c for c in decision.candidates if c.verdict == "match"), key=lambda c: c.score)
            right = concern_of[best.entry_id] == label
        if made and right:
            tp += 1
        elif made:
            fp += 1
            mistakes.append(
                f"{mail.id} ({mail.case}) wrongly with {decision.ticket_id}: {decision.score:.0f}"
            )
        if expected and not (made and right):
            fn += 1
            if not made:
                top = decision.candidates[0].score if decision.candidates else 0
                mistakes.append(f"{mail.id} ({mail.case}) missed, best {top:.0f}")
        ticket = decision.ticket_id if decision.action == "merge" and decision.ticket_id else number
        index.add(Entry(number, ticket, mail.sender, mail.at, new))
        concern_of[number] = label
    return Quality(rule.name, rule.action, tp, fp, fn, tuple(mistakes))


@dataclass(frozen=True)
class Change:
    message_row_id: int
    before: str  # "merge into 10001 (rule)", "new", ...
    after: str


@dataclass
class HistoryReplay:
    """What RULES would have done over stored history, against what was done and corrected."""

    examined: int = 0
    changes: list[Change] = field(default_factory=list)
    merges_added: int = 0
    merges_removed: int = 0
    clusters_changed: int = 0
    # Against the agents' corrections: a stored merge/cluster nobody undid counts as right,
    # an undone one as wrong.
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        made = self.true_positives + self.false_positives
        return self.true_positives / made if made else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def _describe(action: str, ticket_id: int | None, rule: str) -> str:
    return "new ticket" if action in ("new", "") else f"{action} with ticket {ticket_id} ({rule})"


def replay_history(
    session: Session,
    rules: Sequence[DedupeRule],
    since: datetime,
    progress: Callable[[Iterable[DedupeEntry]], Iterable[DedupeEntry]] = lambda rows: rows,
) -> HistoryReplay:
    """Re-decide every stored mail since SINCE under RULES, in arrival order; writes nothing."""
    window = max((r.window_delta for r in rules), default=timedelta(hours=1))
    index = CandidateIndex(window)
    before = {
        d.message_row_id: d
        for d in session.execute(
            select(DedupeDecision).where(DedupeDecision.created_at >= since - window)
        ).scalars()
    }
    wrong = set(
        session.execute(select(DedupeLabel.message_row_id).where(DedupeLabel.kind == "unmerge")).scalars()
    )
    removed = set(
        session.execute(select(DedupeLabel.ticket_id).where(DedupeLabel.kind == "cluster_remove")).scalars()
    )
    rows = (
        session.execute(
            select(DedupeEntry).where(DedupeEntry.created_at >= since - window).order_by(DedupeEntry.id)
        )
        .scalars()
        .all()
    )
    result = HistoryReplay()
    # Where each mail would be: a replayed merge puts it on the target's ticket.
    ticket_now: dict[int, int] = {}
    original_ticket: dict[int, int] = {}
    for row in progress(rows):
        normal = NormalMail(row.subject, row.body, row.quoted)
        old = before.get(row.message_row_id)
        if old is None:  # no decision recorded for it: it stays where it is
            original = row.ticket_id
        else:
            original = old.ticket_id if old.action != "merge" else _original_ticket(old, row)
        original_ticket[row.id] = original
        if row.created_at >= since:
            index.expire(row.created_at)
            decision = decide(
                normal,
                row.sender,
                row.created_at,
                rules,
                partial(_proposed_now, index, ticket_now, mail=normal, sender=row.sender, now=row.created_at),
            )
            result.examined += 1
            _compare(result, row, old, decision, wrong, removed)
        else:
            decision = Decision("new")
        ticket = decision.ticket_id if decision.action == "merge" and decision.ticket_id else original
        ticket_now[row.id] = ticket
        index.add(Entry(row.id, ticket, row.sender, row.created_at, normal))
    return result


def _original_ticket(old: DedupeDecision, row: DedupeEntry) -> int:
    # A merged mail's "own" ticket, were it not merged: an unmerge gave it one (the entry's ticket).
    return row.ticket_id if row.ticket_id != old.target_ticket_id else -row.message_row_id


def _proposed_now(
    index: CandidateIndex,
    ticket_now: dict[int, int],
    rule: DedupeRule,
    *,
    mail: NormalMail,
    sender: str,
    now: datetime,
) -> list[Entry]:
    """What RULE proposes for MAIL, each candidate on the ticket the replay has put it on."""
    return [_on_ticket(entry, ticket_now) for entry in proposed(index, rule, mail, sender, now)]


def _on_ticket(entry: Entry, ticket_now: dict[int, int]) -> Entry:
    return Entry(
        entry.id, ticket_now.get(entry.id, entry.ticket_id), entry.sender, entry.created_at, entry.mail
    )


def _compare(
    result: HistoryReplay,
    row: DedupeEntry,
    old: DedupeDecision | None,
    new: Decision,
    wrong: set[int | None],
    removed: set[int],
) -> None:
    old_action = old.action if old else "new"
    old_target = old.target_ticket_id if old else None
    undone = row.message_row_id in wrong or (old_action == "cluster" and row.ticket_id in removed)
    was_positive = old_action in ("merge", "cluster") and not undone
    now_positive = new.action in ("merge", "cluster")
    if (old_action, old_target) != (new.action, new.ticket_id):
        result.changes.append(
            Change(
                row.message_row_id,
                _describe(old_action, old_target, old.rule if old else ""),
                _describe(new.action, new.ticket_id, new.rule),
            )
        )
        if new.action == "merge" and old_action != "merge":
            result.merges_added += 1
        if old_action == "merge" and new.action != "merge":
            result.merges_removed += 1
        if "cluster" in (old_action, new.action):
            result.clusters_changed += 1
    if now_positive and was_positive and new.ticket_id == old_target:
        result.true_positives += 1
    elif now_positive and (undone or (old_action in ("merge", "cluster") and new.ticket_id != old_target)):
        result.false_positives += 1
    elif was_positive and not now_positive:
        result.false_negatives += 1
