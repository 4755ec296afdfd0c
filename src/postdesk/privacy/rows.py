"""Deleting messages and tickets with every row that refers to them, in foreign-key order.

Shared by erase and retention: both must leave no attachment, raw mail,
dedupe entry or outbox copy behind a message they delete.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from postdesk.store.models import (
    Attachment,
    Blob,
    CallerHint,
    DedupeCluster,
    DedupeClusterMember,
    DedupeDecision,
    DedupeEntry,
    DedupeLabel,
    FeatureAsk,
    FeatureRequest,
    Inbound,
    InboundClaim,
    InboundRaw,
    Message,
    Outbox,
    Participant,
    PrivacyAudit,
    Ticket,
    TicketMerge,
    TriageEvent,
    Voicemail,
)


def delete_messages(session: Session, ids: list[int], counts: Counter[str]) -> None:
    """Delete the messages IDS, their files (blobs no other message uses), raw mails and index rows."""
    if not ids:
        return
    inbound_ids = [
        i
        for i in session.execute(select(Message.inbound_id).where(Message.id.in_(ids))).scalars()
        if i is not None
    ]
    shas = set(
        session.execute(select(Attachment.blob_sha256).where(Attachment.message_row_id.in_(ids))).scalars()
    )
    counts["voicemails"] += _count(session, delete(Voicemail).where(Voicemail.message_row_id.in_(ids)))
    counts["attachments"] += _count(session, delete(Attachment).where(Attachment.message_row_id.in_(ids)))
    counts["dedupe_entries"] += _count(
        session, delete(DedupeEntry).where(DedupeEntry.message_row_id.in_(ids))
    )
    session.execute(delete(DedupeDecision).where(DedupeDecision.message_row_id.in_(ids)))
    session.execute(
        update(DedupeLabel).where(DedupeLabel.message_row_id.in_(ids)).values(message_row_id=None)
    )
    counts["outbound"] += _count(session, delete(Outbox).where(Outbox.message_row_id.in_(ids)))
    counts["messages"] += _count(session, delete(Message).where(Message.id.in_(ids)))
    if shas:
        unused = delete(Blob).where(
            Blob.sha256.in_(shas), ~exists().where(Attachment.blob_sha256 == Blob.sha256)
        )
        counts["blobs"] += _count(session, unused)
    delete_spooled(session, inbound_ids, counts)


def delete_spooled(session: Session, inbound_ids: list[int], counts: Counter[str]) -> None:
    """Delete spooled mails (row, raw bytes, claims) that no message refers to any more."""
    if not inbound_ids:
        return
    unused = list(
        session.execute(
            select(Inbound.id).where(
                Inbound.id.in_(inbound_ids), ~exists().where(Message.inbound_id == Inbound.id)
            )
        ).scalars()
    )
    if not unused:
        return
    session.execute(delete(InboundClaim).where(InboundClaim.inbound_id.in_(unused)))
    counts["raw_mails"] += _count(session, delete(InboundRaw).where(InboundRaw.inbound_id.in_(unused)))
    counts["spooled"] += _count(session, delete(Inbound).where(Inbound.id.in_(unused)))


def delete_tickets(session: Session, ids: list[int], counts: Counter[str]) -> None:
    """Delete the tickets IDS with all their messages and everything kept about them."""
    if not ids:
        return
    on_them = list(session.execute(select(Message.id).where(Message.ticket_id.in_(ids))).scalars())
    delete_messages(session, on_them, counts)
    counts["outbound"] += _count(session, delete(Outbox).where(Outbox.ticket_id.in_(ids)))
    asked = set(
        session.execute(select(FeatureAsk.feature_request_id).where(FeatureAsk.ticket_id.in_(ids))).scalars()
    )
    clusters = set(
        session.execute(
            select(DedupeClusterMember.cluster_id).where(DedupeClusterMember.ticket_id.in_(ids))
        ).scalars()
    )
    for table in (
        Participant,
        CallerHint,
        TriageEvent,
        FeatureAsk,
        DedupeEntry,
        DedupeDecision,
        DedupeClusterMember,
    ):
        session.execute(delete(table).where(table.ticket_id.in_(ids)))
    session.execute(delete(DedupeLabel).where(DedupeLabel.ticket_id.in_(ids)))
    session.execute(
        update(DedupeLabel).where(DedupeLabel.other_ticket_id.in_(ids)).values(other_ticket_id=None)
    )
    session.execute(
        update(DedupeDecision).where(DedupeDecision.target_ticket_id.in_(ids)).values(target_ticket_id=None)
    )
    session.execute(
        delete(TicketMerge).where(TicketMerge.source_id.in_(ids) | TicketMerge.target_id.in_(ids))
    )
    session.execute(
        delete(FeatureRequest).where(
            FeatureRequest.id.in_(asked), ~exists().where(FeatureAsk.feature_request_id == FeatureRequest.id)
        )
    )
    session.execute(
        delete(DedupeCluster).where(
            DedupeCluster.id.in_(clusters),
            ~exists().where(DedupeClusterMember.cluster_id == DedupeCluster.id),
        )
    )
    counts["tickets"] += _count(session, delete(Ticket).where(Ticket.id.in_(ids)))


def record_audit(session: Session, action: str, ran_by: str, now: datetime, counts: dict[str, Any]) -> None:
    session.add(PrivacyAudit(action=action, ran_by=ran_by, ran_at=now, counts=counts))


def _count(session: Session, statement: Any) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
