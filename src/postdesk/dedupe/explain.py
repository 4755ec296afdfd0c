"""`postdesk dedupe explain`: a message's or ticket's candidates, their scores, and the deciding rule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.store.models import DedupeDecision, DedupeEntry, DedupeLabel, Message, Ticket


class ExplainError(Exception):
    pass


def explain(session: Session, item_id: int, kind: str = "auto") -> dict[str, Any]:
    """KIND "ticket", "message", or "auto": a ticket number if one exists, else a message id."""
    if kind == "ticket" or (kind == "auto" and session.get(Ticket, item_id) is not None):
        if session.get(Ticket, item_id) is None:
            raise ExplainError(f"no ticket {item_id}")
        message_ids = list(
            session.execute(
                select(Message.id)
                .where(Message.ticket_id == item_id, Message.direction == "in")
                .order_by(Message.id)
            ).scalars()
        )
        return {"ticket": item_id, "decisions": [d for m in message_ids if (d := _decision(session, m))]}
    if session.get(Message, item_id) is None:
        raise ExplainError(f"no ticket or message {item_id}")
    decision = _decision(session, item_id)
    if decision is None:
        raise ExplainError(
            f"message {item_id} was not compared by dedupe (it threaded, is not a customer's mail, "
            "or arrived before dedupe was enabled)"
        )
    return {"message": item_id, "decisions": [decision]}


def _decision(session: Session, message_row_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(DedupeDecision).where(DedupeDecision.message_row_id == message_row_id)
    ).scalar_one_or_none()
    if row is None:
        return None
    labels = session.execute(
        select(DedupeLabel.kind, DedupeLabel.created_at).where(DedupeLabel.message_row_id == message_row_id)
    ).all()
    return {
        "message": message_row_id,
        "filed_on_ticket": row.ticket_id,
        "action": row.action,
        "rule": row.rule or None,
        "target_ticket": row.target_ticket_id,
        "score": row.score,
        "reason": row.reason,
        "decided_at": row.created_at.isoformat(),
        "candidates": _with_messages(session, row.candidates),
        "corrections": [{"kind": kind, "at": at.isoformat()} for kind, at in labels],
    }


def explain_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    if not report["decisions"]:
        lines.append(f"ticket {report.get('ticket')}: no dedupe decisions (no customer mail was compared)")
    for d in report["decisions"]:
        lines.append(f"message {d['message']} (ticket {d['filed_on_ticket']}): {d['action']}")
        lines.append(f"  why: {d['reason']}")
        for c in d["corrections"]:
            lines.append(f"  corrected: {c['kind']} at {c['at']}")
        if not d["candidates"]:
            lines.append("  candidates: none (no earlier mail in any rule's window and scope)")
        for c in d["candidates"]:
            earlier = f"message {c['message']:>6}" if c.get("message") is not None else " " * 14
            lines.append(
                f"  candidate {earlier} on ticket {c['ticket_id']:>8}  rule {c['rule']:<22} "
                f"score {c['score']:>5.1f}  {c['verdict']}"
            )
    return lines


def _with_messages(session: Session, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CANDIDATES, each with the earlier message it is (`message`): a ticket has many."""
    entry_ids = {c["entry_id"] for c in candidates if "entry_id" in c}
    rows = session.execute(
        select(DedupeEntry.id, DedupeEntry.message_row_id).where(DedupeEntry.id.in_(entry_ids))
    )
    messages = {entry_id: message_id for entry_id, message_id in rows}
    return [c | {"message": messages.get(c.get("entry_id", -1))} for c in candidates]
