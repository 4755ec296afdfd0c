"""The dedupe stages, on either side of "store".

``dedupe`` (after threading): a customer's mail that did not thread is
compared with earlier mail under the configured rules. A ``merge`` files it
on the sender's open ticket (``threaded_by = "duplicate"``): no new ticket,
so no second acknowledgement. ``cluster`` and ``flag`` leave it a new ticket.

``dedupe-file`` (after store): keeps the mail's normalised text for later
comparisons, records the decision for `postdesk dedupe explain`, links a
``cluster`` decision's tickets, and queues the duplicate notice for a merge
(at most once per ticket per rule window).
"""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from postdesk.config.model import DedupeRule, Settings
from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.dedupe.index import CandidateIndex, Entry, proposed
from postdesk.dedupe.normalise import NormalMail, normalise_mail
from postdesk.dedupe.rules import Decision, Pending, decide, score_pair
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import DedupeEntry, DedupeLabel, Ticket
from postdesk.store.session import Store

NOTICE_KIND = "duplicate_notice"
# The kinds of mail dedupe compares: what customers write (not machines, agents, or calls).
COMPARED_KINDS = frozenset({MailKind.CUSTOMER})


def index_window(settings: Settings) -> timedelta:
    """How far back the index must reach: the longest rule window."""
    return max((rule.window_delta for rule in settings.dedupe.rules), default=timedelta(hours=1))


def new_index(settings: Settings, *, is_sqlite: bool) -> CandidateIndex:
    # SQLite has one writer, so ids commit in order; PostgreSQL's may not.
    return CandidateIndex(index_window(settings), overlap=0 if is_sqlite else 200)


def build_index(store: Store, settings: Settings, now: datetime) -> CandidateIndex:
    """A worker's index, read from the store on start."""
    index = new_index(settings, is_sqlite=store.is_sqlite)
    with store.read() as session:
        index.load(session, now)
    # The index is long-lived and large (100,000s of objects): move it out of the collector's
    # generations so a full collection does not rescan it in the middle of a decision.
    gc.freeze()
    return index


def dedupe(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    settings = env.settings.dedupe
    if mail is None or work.ticket_id is not None or work.kind not in COMPARED_KINDS:
        return work
    if not (settings.enabled and settings.rules and mail.sender_email):
        return work
    normal = normalise_mail(mail.subject, mail.text, env.settings.desk.ticket_tag)
    sender = (work.customer.key if work.customer else "") or mail.sender_email.lower()
    # The worker's own index is caught up once per batch (Processor); without one, read one for this mail.
    index = env.resources.dedupe_index
    if index is None:  # (not `or`: an empty index is falsy, and must still be the worker's own)
        index = new_index(env.settings, is_sqlite=env.session.get_bind().dialect.name == "sqlite")
        index.load(env.session, env.now)
    decision = decide_for(normal, sender, env, index, settings.rules)
    env.metrics.dedupe_decision(decision.rule or "none", decision.action)  # docs/operations.md
    work = work.with_fact(Pending(normal, sender, decision))
    if decision.action == "new":
        return work
    note = (
        f"dedupe: {decision.action} with ticket {decision.ticket_id} ({decision.rule}, {decision.score:.0f})"
    )
    if decision.action == "merge":
        return replace(work, ticket_id=decision.ticket_id, threaded_by="duplicate", notes=work.note(note))
    return replace(work, notes=work.note(note))


def decide_for(
    normal: NormalMail, sender: str, env: StageEnv, index: CandidateIndex, rules: tuple[DedupeRule, ...]
) -> Decision:
    """The rules' decision; the store is asked only about candidates that would decide.

    The index proposes and scores without the database. Only the mails that
    reach a threshold are then read back: which ticket they are on now (an
    unmerge moves a mail), whether it is closed, whether an agent took it out
    of its cluster. Most mail matches nothing and costs no query.
    """
    now = env.now
    found = {rule.name: proposed(index, rule, normal, sender, now) for rule in rules}
    scores: dict[tuple[str, NormalMail], tuple[float, str]] = {}

    def score(rule: DedupeRule, new: NormalMail, earlier: NormalMail) -> tuple[float, str]:
        # The second decision below scores the same pairs again: only who may be used changed.
        key = (rule.name, earlier)
        if key not in scores:
            scores[key] = score_pair(rule, new, earlier)
        return scores[key]

    first = decide(normal, sender, now, rules, lambda rule: found[rule.name], score=score)
    matching = {c.entry_id for c in first.candidates if c.verdict == "match"}
    if not matching:
        return first
    facts = _facts(env, matching)

    def current(rule: DedupeRule) -> list[Entry]:
        return [
            replace(e, ticket_id=facts[e.id][0]) if e.id in facts else e
            for e in found[rule.name]
            if e.id in facts or e.id not in matching  # a matching mail the store no longer has is dropped
        ]

    def allowed(rule: DedupeRule, entry: Entry) -> str:
        if entry.id not in facts:
            return ""  # below every threshold anyway: never decides
        _ticket_id, status, removed = facts[entry.id]
        if rule.action == "merge" and status == "closed":
            return "ticket closed"
        if rule.action == "cluster" and removed:
            return "an agent took this ticket out of its cluster"
        return ""

    return decide(normal, sender, now, rules, current, allowed, score)


def _facts(env: StageEnv, entry_ids: set[int]) -> dict[int, tuple[int, str, bool]]:
    """entry id → (ticket id, ticket status, ticket was taken out of a cluster by an agent), in one query."""
    # Core, not the ORM session: plain rows, and a fraction of the overhead per call.
    rows = env.session.connection().execute(_FACTS, {"ids": sorted(entry_ids)}).all()
    return {entry_id: (ticket_id, status, bool(gone)) for entry_id, ticket_id, status, gone in rows}


# Built once: SQLAlchemy then finds its compiled form without re-walking the statement.
_FACTS = (
    select(
        DedupeEntry.id,
        DedupeEntry.ticket_id,
        Ticket.status,
        select(DedupeLabel.id)
        .where(DedupeLabel.kind == "cluster_remove", DedupeLabel.ticket_id == DedupeEntry.ticket_id)
        .exists(),
    )
    .join(Ticket, Ticket.id == DedupeEntry.ticket_id)
    .where(DedupeEntry.id.in_(bindparam("ids", expanding=True)))
)
