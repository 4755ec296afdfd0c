"""The dedupe-file stage: the mail's normalised text for later comparisons, the decision for `dedupe explain`,
the cluster link, and the duplicate notice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import bindparam, func, select

from postdesk.core.work import Work
from postdesk.dedupe.clusters import join_cluster
from postdesk.dedupe.index import Entry
from postdesk.dedupe.rules import Pending
from postdesk.deliver.compose import automatic_answer, with_tag
from postdesk.deliver.limits import customer_limits, enqueue_limited
from postdesk.deliver.loopguard import auto_reply_allowed
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.stages.dedupe import (
    NOTICE_KIND,
)
from postdesk.store.models import DedupeDecision, DedupeEntry, Message, Ticket
from postdesk.store.rows import insert_row
from postdesk.threads.tokens import make_token, reply_address


def file_dedupe(work: Work, env: StageEnv) -> Work:
    """After store: keep the normalised text, record the decision, cluster, queue the notice."""
    pending = work.fact(Pending)
    if pending is None or work.message_row_id is None or work.ticket_id is None:
        return work
    decision = pending.decision
    session = env.session
    entry_id = insert_row(
        session,
        DedupeEntry,
        {
            "message_row_id": work.message_row_id,
            "ticket_id": work.ticket_id,
            "sender": pending.sender,
            "subject": pending.mail.subject,
            "body": pending.mail.body,
            "quoted": pending.mail.quoted,
            "created_at": env.now,
        },
    )
    if env.resources.dedupe_index is not None:
        # The next mail of this batch may repeat this one. (A rollback takes it out again: Processor.)
        env.resources.dedupe_index.add(Entry(entry_id, work.ticket_id, pending.sender, env.now, pending.mail))
    insert_row(
        session,
        DedupeDecision,
        {
            "message_row_id": work.message_row_id,
            "ticket_id": work.ticket_id,
            "action": decision.action,
            "rule": decision.rule,
            "target_ticket_id": decision.ticket_id,
            "score": decision.score,
            "candidates": [c.as_dict() for c in decision.candidates],
            "reason": decision.reason,
            "created_at": env.now,
        },
    )
    if decision.action == "cluster" and decision.ticket_id is not None:
        alike = [c.ticket_id for c in decision.candidates if c.rule == decision.rule and c.verdict == "match"]
        cluster_id = join_cluster(session, work.ticket_id, [decision.ticket_id, *alike], decision, env.now)
        return replace(work, notes=work.note(f"cluster {cluster_id}"))
    if decision.action == "merge":
        return _notify_duplicate(work, env, timedelta(hours=decision.window_hours))
    return work


def _notify_duplicate(work: Work, env: StageEnv, window: timedelta) -> Work:
    mail = work.mail
    assert mail is not None and work.ticket_id is not None
    verdict = auto_reply_allowed(mail, work.inbound.envelope_from, env.settings.own_addresses)
    if not verdict.allowed:
        return replace(work, notes=work.note(f"no duplicate notice: {verdict.reason}"))
    sent = (
        env.session.connection()
        .execute(_NOTICES_SINCE, {"ticket_id": work.ticket_id, "since": env.now - window})
        .scalar_one()
    )
    if sent:
        return replace(work, notes=work.note("duplicate notice already sent in this window"))
    ticket = env.session.get_one(Ticket, work.ticket_id)
    desk = env.settings.desk
    tag = f"{desk.ticket_tag}{ticket.number}"
    reply_to = reply_address(desk.address, make_token(env.secret, ticket.id))
    assert mail.from_ is not None  # the loop guard refuses mail without a sender
    rendered = env.templates.render(
        NOTICE_KIND,
        ticket.language,
        desk_name=desk.name,
        number=ticket.number,
        tag=tag,
        subject=ticket.subject,
        customer_name=mail.from_.name,
        reply_address=reply_to,
    )
    held = enqueue_limited(
        env.session,
        automatic_answer(
            mail,
            desk_name=desk.name,
            desk_address=desk.address,
            subject=with_tag(rendered.subject, tag),
            body=rendered.body,
            kind="dup",
            now=env.now,
            reply_to=reply_to,
            language=ticket.language,
        ),
        customer_limits(env.settings.replies),
        env.metrics,
        ticket_id=ticket.id,
        kind=NOTICE_KIND,
        envelope_from=env.settings.outbound.envelope_from or desk.address,
        now=env.now,
    )
    if held is not None:
        return replace(work, notes=work.note(f"duplicate notice held: limit {held.name} reached"))
    return replace(work, notes=work.note("duplicate notice queued"))


_NOTICES_SINCE = (
    select(func.count())
    .select_from(Message)
    .where(
        Message.ticket_id == bindparam("ticket_id"),
        Message.kind == NOTICE_KIND,
        Message.created_at >= bindparam("since"),
    )
)
