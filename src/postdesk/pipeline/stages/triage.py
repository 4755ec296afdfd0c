"""The triage stage: queue, priority, level and due time of a new ticket;
a follow-up may raise the priority."""

from __future__ import annotations

from dataclasses import replace

from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Ticket, TriageEvent
from postdesk.triage.defaults import effective_rules
from postdesk.triage.rules import (
    RAISING_KINDS,
    _due_detail,
    _has_answer,
    _raises,
    decide,
    first_response_due,
    own_words,
    rank,
    rule_matches,
)


def triage(work: Work, env: StageEnv) -> Work:
    assert work.mail is not None
    if work.ticket_id is not None:
        return _follow_up(work, env)
    decided = decide(work, env.session, env.settings)
    note = f"triage: {decided.priority}, queue {decided.queue}, level {decided.level}"
    return replace(work.with_fact(decided), notes=work.note(note))


def _follow_up(work: Work, env: StageEnv) -> Work:
    if work.kind not in RAISING_KINDS:
        return work
    session, settings = env.session, env.settings
    ticket = session.get_one(Ticket, work.ticket_id)
    mail = work.mail
    assert mail is not None
    raises = list(_raises(work, session, settings))
    text = own_words(mail)
    for rule in (sourced.rule for sourced in effective_rules(settings.triage)):
        if rule.set.priority and (matched := rule_matches(rule.match, mail.subject, text, mail.sender_email)):
            raises.append(("rule", rule.name, rule.set.priority, matched))
    best = max(raises, key=lambda r: rank(r[2]), default=None)
    if best is None or rank(best[2]) <= rank(ticket.priority):
        return work
    step, name, raised_to, why = best
    events = [(name, f"follow-up ({step}): {why} → priority {ticket.priority} → {raised_to}")]
    ticket.priority = raised_to
    if ticket.first_response_due is not None and not _has_answer(session, ticket.id):
        queue = settings.queue(ticket.queue)
        due = first_response_due(settings, queue, raised_to, ticket.created_at)
        if due < ticket.first_response_due:
            ticket.first_response_due = due
            events.append(("", _due_detail(settings, queue, raised_to, due)))
    session.add_all(
        TriageEvent(ticket_id=ticket.id, created_at=env.now, step="follow-up", name=n, detail=d)
        for n, d in events
    )
    return replace(work, notes=work.note(f"triage: priority raised to {raised_to}"))
