"""Deleting old spam for good (`postdesk tickets purge --status spam --older-than 30d`).

A ticket goes with every row that refers to it or to its messages: the
messages and their attachments (and blobs no other attachment shares),
outbox rows (held ones too), voicemails, dedupe rows, triage events,
participants, feature asks, merges, and the spooled original mail and its
claims once no message refers to it any more. Rows of other tickets that
merely point at a purged one (a dedupe decision's target, a label's other
ticket) lose the pointer, not themselves. Contacts left with nothing are
deleted too, unless an agent marked them (VIP, a phone number).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from postdesk.store.models import (
    Attachment,
    Base,
    Blob,
    Contact,
    ContactPhone,
    DedupeClusterMember,
    DedupeDecision,
    DedupeEntry,
    DedupeLabel,
    FeatureAsk,
    Inbound,
    InboundClaim,
    InboundRaw,
    Message,
    Outbox,
    Participant,
    Ticket,
    TicketMerge,
    TriageEvent,
    Voicemail,
)
from postdesk.store.queries import SPAM

# Tickets per round: every IN list stays far below SQLite's limit on bound parameters.
CHUNK = 500


def purge_spam(session: Session, before: datetime, *, dry_run: bool) -> dict[str, int]:
    """Delete spam tickets created before BEFORE with all that refers to them; rows per table.
    With DRY_RUN nothing is deleted and the counts say what would be."""
    ticket_ids = list(
        session.execute(
            select(Ticket.id).where(Ticket.status == SPAM, Ticket.created_at < before).order_by(Ticket.id)
        ).scalars()
    )
    counts: Counter[str] = Counter()
    for start in range(0, len(ticket_ids), CHUNK):
        counts.update(_purge_chunk(session, ticket_ids[start : start + CHUNK], dry_run))
    return {
        "tickets": len(ticket_ids),
        **{name: counts[name] for name in sorted(counts) if name != "tickets"},
    }


def _purge_chunk(session: Session, tickets: Sequence[int], dry_run: bool) -> Counter[str]:
    messages = _ids(session, select(Message.id).where(Message.ticket_id.in_(tickets)))
    attachments = _ids(session, select(Attachment.id).where(Attachment.message_row_id.in_(messages)))
    inbound = _ids(
        session,
        select(Message.inbound_id)
        .where(Message.id.in_(messages), Message.inbound_id.is_not(None))
        .distinct(),
    )
    blobs = list(
        session.execute(
            select(Attachment.blob_sha256).where(Attachment.id.in_(attachments)).distinct()
        ).scalars()
    )
    contacts = _ids(session, select(Ticket.contact_id).where(Ticket.id.in_(tickets)).distinct())
    counts: Counter[str] = Counter()
    for name, model, condition in _dependents(tickets, messages, attachments):
        counts[name] += _apply(session, model, condition, dry_run)
    if not dry_run:
        _unlink_others(session, tickets)
    counts["tickets"] += _apply(session, Ticket, Ticket.id.in_(tickets), dry_run)
    for name, model, condition in _leftovers(session, tickets, messages, inbound, blobs, contacts, dry_run):
        counts[name] += _apply(session, model, condition, dry_run)
    return counts


def _dependents(
    tickets: Sequence[int], messages: Sequence[int], attachments: Sequence[int]
) -> Iterator[tuple[str, type[Base], ColumnElement[bool]]]:
    """What refers to the tickets, their messages and attachments, children before parents."""
    yield (
        "voicemails",
        Voicemail,
        or_(Voicemail.message_row_id.in_(messages), Voicemail.attachment_id.in_(attachments)),
    )
    yield "outbox", Outbox, or_(Outbox.ticket_id.in_(tickets), Outbox.message_row_id.in_(messages))
    yield (
        "dedupe_labels",
        DedupeLabel,
        or_(DedupeLabel.ticket_id.in_(tickets), DedupeLabel.message_row_id.in_(messages)),
    )
    yield (
        "dedupe_decisions",
        DedupeDecision,
        or_(DedupeDecision.ticket_id.in_(tickets), DedupeDecision.message_row_id.in_(messages)),
    )
    yield (
        "dedupe_entries",
        DedupeEntry,
        or_(DedupeEntry.ticket_id.in_(tickets), DedupeEntry.message_row_id.in_(messages)),
    )
    yield "dedupe_cluster_members", DedupeClusterMember, DedupeClusterMember.ticket_id.in_(tickets)
    yield "feature_asks", FeatureAsk, FeatureAsk.ticket_id.in_(tickets)
    yield (
        "ticket_merges",
        TicketMerge,
        or_(TicketMerge.source_id.in_(tickets), TicketMerge.target_id.in_(tickets)),
    )
    yield "triage_events", TriageEvent, TriageEvent.ticket_id.in_(tickets)
    yield "participants", Participant, Participant.ticket_id.in_(tickets)
    yield "attachments", Attachment, Attachment.id.in_(attachments)
    yield "messages", Message, Message.id.in_(messages)


def _unlink_others(session: Session, tickets: Sequence[int]) -> None:
    session.execute(
        update(DedupeDecision)
        .where(DedupeDecision.target_ticket_id.in_(tickets))
        .values(target_ticket_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(DedupeLabel)
        .where(DedupeLabel.other_ticket_id.in_(tickets))
        .values(other_ticket_id=None)
        .execution_options(synchronize_session=False)
    )


def _leftovers(
    session: Session,
    tickets: Sequence[int],
    messages: Sequence[int],
    inbound: Sequence[int],
    blobs: Sequence[str],
    contacts: Sequence[int],
    dry_run: bool,
) -> Iterator[tuple[str, type[Base], ColumnElement[bool]]]:
    """What only the purged rows used: the spooled mail, blobs, contacts."""
    # On a dry run the messages are still there: whatever only they use counts as gone.
    gone = Message.id.in_(messages) if dry_run else Message.id.is_(None)
    inbound_used = select(Message.inbound_id).where(Message.inbound_id.in_(inbound), ~gone)
    spooled = Inbound.id.in_(inbound) & Inbound.id.not_in(inbound_used)
    spooled_ids = _ids(session, select(Inbound.id).where(spooled))
    yield "inbound_claims", InboundClaim, InboundClaim.inbound_id.in_(spooled_ids)
    yield "inbound_raw", InboundRaw, InboundRaw.inbound_id.in_(spooled_ids)
    yield "inbound", Inbound, Inbound.id.in_(spooled_ids)
    attachment_gone = Attachment.message_row_id.in_(messages) if dry_run else Attachment.id.is_(None)
    blob_used = select(Attachment.blob_sha256).where(Attachment.blob_sha256.in_(blobs), ~attachment_gone)
    yield "blobs", Blob, Blob.sha256.in_(blobs) & Blob.sha256.not_in(blob_used)
    ticket_gone = Ticket.id.in_(tickets) if dry_run else Ticket.id.is_(None)
    kept = Contact.vip.is_(False) & Contact.id.in_(contacts)
    yield (
        "contacts",
        Contact,
        kept
        & Contact.id.not_in(select(Ticket.contact_id).where(Ticket.contact_id.in_(contacts), ~ticket_gone))
        & Contact.id.not_in(select(ContactPhone.contact_id).where(ContactPhone.contact_id.in_(contacts)))
        & Contact.id.not_in(
            select(Voicemail.contact_id).where(
                Voicemail.contact_id.in_(contacts), ~_voicemail_gone(messages, dry_run)
            )
        ),
    )


def _voicemail_gone(messages: Sequence[int], dry_run: bool) -> ColumnElement[bool]:
    return Voicemail.message_row_id.in_(messages) if dry_run else Voicemail.id.is_(None)


def _apply(session: Session, model: type[Base], condition: ColumnElement[bool], dry_run: bool) -> int:
    count = session.execute(select(func.count()).select_from(model).where(condition)).scalar_one()
    if count and not dry_run:
        session.execute(delete(model).where(condition).execution_options(synchronize_session=False))
    return int(count)


def _ids(session: Session, query: Any) -> list[int]:
    return [value for value in session.execute(query).scalars() if value is not None]
