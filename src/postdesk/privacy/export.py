"""Everything the desk holds about one person (GDPR Art. 15): one JSON document and a zip of the raw bytes."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.privacy.holdings import Holdings, holdings_of, outbox_near
from postdesk.store.models import (
    Attachment,
    Blob,
    CallerHint,
    ContactPhone,
    FeatureAsk,
    FeatureRequest,
    InboundRaw,
    Message,
    Outbox,
    Ticket,
    TriageEvent,
    Voicemail,
)


@dataclass(frozen=True)
class Export:
    """The JSON document and the zip's members (name -> bytes) it refers to."""

    document: dict[str, Any]
    files: dict[str, bytes]


def export_person(session: Session, email: str) -> Export:
    """What the desk holds about EMAIL; raw mails as `mail/<message id>.eml`, files as `attachments/...`."""
    held = holdings_of(session, email)
    files: dict[str, bytes] = {}
    messages = [_message(session, row, files) for row in _messages(session, held)]
    document: dict[str, Any] = {
        "email": held.email,
        "contact": _contact(held),
        "phones": _phones(session, held),
        "tickets": [
            _ticket(session, session.get_one(Ticket, t), t in held.own_ticket_ids) for t in held.ticket_ids
        ],
        "messages": messages,
        "outbound": _outbound(session, held, files),
        "feature_requests": _features(session, held),
        "voicemails": _voicemails(session, held),
        "caller_hints": _caller_hints(session, held),
    }
    return Export(document, files)


def write_export(export: Export, out: Path) -> Path:
    """Write OUT (the JSON) and the zip beside it (same name, `.zip`); returns the zip's path."""
    archive = out.with_suffix(".zip")
    out.write_text(json.dumps(export.document, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in sorted(export.files.items()):
            zipped.writestr(name, data)
    return archive


def _messages(session: Session, held: Holdings) -> list[Message]:
    if not held.message_ids:
        return []
    query = select(Message).where(Message.id.in_(held.message_ids)).order_by(Message.id)
    return list(session.execute(query).scalars())


def _contact(held: Holdings) -> dict[str, Any] | None:
    c = held.contact
    if c is None:
        return None
    return {"email": c.email, "name": c.name, "vip": c.vip, "created_at": c.created_at.isoformat()}


def _phones(session: Session, held: Holdings) -> list[dict[str, Any]]:
    if held.contact is None:
        return []
    rows = session.execute(
        select(ContactPhone).where(ContactPhone.contact_id == held.contact.id).order_by(ContactPhone.id)
    ).scalars()
    return [
        {
            "number": p.number,
            "learned": p.learned,
            "conflict": p.conflict,
            "source": p.source,
            "created_at": p.created_at.isoformat(),
        }
        for p in rows
    ]


def _ticket(session: Session, ticket: Ticket, own: bool) -> dict[str, Any]:
    events = session.execute(
        select(TriageEvent).where(TriageEvent.ticket_id == ticket.id).order_by(TriageEvent.id)
    ).scalars()
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "language": ticket.language,
        "created_at": ticket.created_at.isoformat(),
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "customer": ticket.contact.email,
        "shared": not own,
        # How the desk routed and prioritised it, and why (profiling, Art. 15(1)(h)).
        "triage": [
            {"step": e.step, "name": e.name, "detail": e.detail, "at": e.created_at.isoformat()}
            for e in events
        ],
    }


def _message(session: Session, m: Message, files: dict[str, bytes]) -> dict[str, Any]:
    raw_name = None
    if m.inbound_id is not None and (raw := session.get(InboundRaw, m.inbound_id)) is not None:
        raw_name = f"mail/{m.id}.eml"
        files[raw_name] = raw.raw
    return {
        "id": m.id,
        "ticket": str(m.ticket_id),
        "direction": m.direction,
        "kind": m.kind,
        "message_id": m.message_id,
        "from": m.from_email,
        "from_name": m.from_name,
        "to": m.to_email,
        "cc": m.cc,
        "subject": m.subject,
        "text": m.text,
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "created_at": m.created_at.isoformat(),
        "raw_file": raw_name,
        "attachments": [_attachment(session, m, a, files) for a in m.attachments],
    }


def _attachment(session: Session, m: Message, a: Attachment, files: dict[str, bytes]) -> dict[str, Any]:
    # Numbered per message: two files may have the same name, and a name may hold "../".
    name = f"attachments/{m.id}/{a.id}-{Path(a.filename or 'file').name or 'file'}"
    files[name] = session.get_one(Blob, a.blob_sha256).data
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.blob_sha256,
        "file": name,
    }


def _outbound(session: Session, held: Holdings, files: dict[str, bytes]) -> list[dict[str, Any]]:
    found = []
    near = outbox_near(held)
    for row in session.execute(select(Outbox).where(near).order_by(Outbox.id)).scalars():
        if held.email not in [r.lower() for r in row.recipients]:
            continue
        name = f"outbound/{row.id}.eml"
        files[name] = row.raw
        found.append(
            {
                "id": row.id,
                "ticket": str(row.ticket_id) if row.ticket_id else None,
                "kind": row.kind,
                "message_id": row.message_id,
                "recipients": row.recipients,
                "status": row.status,
                "created_at": row.created_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "raw_file": name,
            }
        )
    return found


def _features(session: Session, held: Holdings) -> list[dict[str, Any]]:
    if not held.ticket_ids:
        return []
    rows = session.execute(
        select(FeatureAsk, FeatureRequest)
        .join(FeatureRequest, FeatureRequest.id == FeatureAsk.feature_request_id)
        .where(FeatureAsk.ticket_id.in_(held.ticket_ids))
        .order_by(FeatureAsk.id)
    ).all()
    return [
        {
            "ticket": str(ask.ticket_id),
            "title": request.title,
            "status": request.status,
            "asked_at": ask.asked_at.isoformat(),
            "text": ask.text,
        }
        for ask, request in rows
    ]


def _voicemails(session: Session, held: Holdings) -> list[dict[str, Any]]:
    query = select(Voicemail).where(Voicemail.message_row_id.in_(held.message_ids))
    if held.contact is not None:
        query = select(Voicemail).where(
            Voicemail.message_row_id.in_(held.message_ids) | (Voicemail.contact_id == held.contact.id)
        )
    return [
        {
            "message": v.message_row_id,
            "caller": v.caller,
            "caller_number": v.caller_number,
            "caller_name": v.caller_name,
            "duration_seconds": v.duration_seconds,
            "urgent": v.urgent,
            "transcript_status": v.transcript_status,
            "created_at": v.created_at.isoformat(),
            "called_at": v.called_at.isoformat() if v.called_at else None,
        }
        for v in session.execute(query.order_by(Voicemail.id)).scalars()
    ]


def _caller_hints(session: Session, held: Holdings) -> list[dict[str, Any]]:
    if held.contact is None:
        return []
    rows = session.execute(
        select(CallerHint).where(CallerHint.contact_id == held.contact.id).order_by(CallerHint.id)
    ).scalars()
    return [
        {"ticket": str(h.ticket_id), "number": h.number, "created_at": h.created_at.isoformat()} for h in rows
    ]
