"""What is stuck and why: the inbound spool and the outbox as plain dicts, and retrying them.

The dict keys are the `--json` contract of `postdesk inbound list`,
`inbound show` and `outbox list` (docs/operations.md): keys are only ever
added. Raw message bytes are never part of them; `inbound show --raw`
reads them with `inbound_raw`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from postdesk.parse.mime import parse_mail
from postdesk.store.inbound import forget_claims
from postdesk.store.models import Inbound, InboundRaw, Message, Outbox

INBOUND_STATUSES = ("pending", "failed", "done")
OUTBOX_STATUSES = ("pending", "sending", "failed", "held", "sent", "digested")
# Rows `outbox list` leaves out unless asked: gone out, or folded into an agent digest.
OUTBOX_DONE = ("sent", "digested")


class NotRetryable(Exception):
    """The row does not exist, or is in a state a retry cannot change."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_inbound(
    session: Session, status: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Spool rows, oldest first; without STATUS the ones not done (pending and failed)."""
    query = select(
        Inbound.id,
        Inbound.received_at,
        Inbound.via,
        Inbound.envelope_from,
        Inbound.recipients,
        Inbound.size,
        Inbound.status,
        Inbound.attempts,
        Inbound.error,
        Inbound.result,
        Inbound.processed_at,
    )
    query = query.where(Inbound.status == status) if status else query.where(Inbound.status != "done")
    rows = session.execute(query.order_by(Inbound.id).limit(limit)).all()
    return [_inbound_dict(row) for row in rows]


def _inbound_dict(row: Any) -> dict[str, Any]:
    """The envelope and processing state of a spool row (a selected row or an `Inbound`)."""
    return {
        "id": row.id,
        "status": row.status,
        "received_at": _iso(row.received_at),
        "via": row.via,
        "envelope_from": row.envelope_from,
        "recipients": list(row.recipients),
        "size": row.size,
        "attempts": row.attempts,
        "error": row.error,
        "result": row.result,
        "processed_at": _iso(row.processed_at),
    }


def inbound_raw(session: Session, inbound_id: int) -> bytes | None:
    """The stored bytes of spooled message INBOUND_ID, as received; None when there is none."""
    return session.execute(
        select(InboundRaw.raw).where(InboundRaw.inbound_id == inbound_id)
    ).scalar_one_or_none()


def inbound_detail(session: Session, inbound_id: int) -> dict[str, Any] | None:
    """Spooled message INBOUND_ID: its row, what parsing its stored bytes gives, and where it went.

    The parse is done again from the stored bytes (it is deterministic), so
    a message still pending or failed shows what the pipeline will see.
    `kind` and `ticket` come from the message the pipeline stored, and are
    None until then.
    """
    row = session.get(Inbound, inbound_id)
    raw = inbound_raw(session, inbound_id)
    if row is None or raw is None:
        return None
    mail = parse_mail(raw)
    stored = session.execute(
        select(Message.ticket_id, Message.kind).where(Message.inbound_id == inbound_id).order_by(Message.id)
    ).first()
    return {
        **_inbound_dict(row),
        "from": mail.from_.email if mail.from_ else None,
        "from_name": mail.from_.name if mail.from_ else "",
        "to": [address.email for address in mail.to],
        "subject": mail.subject,
        "message_id": mail.message_id,
        "date": _iso(mail.date),
        "kind": stored.kind if stored else None,
        "ticket": str(stored.ticket_id) if stored else None,  # the ticket number, as `tickets list` has it
        "text": mail.text,
        "html_converted": mail.html_converted,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
            for a in mail.attachments
        ],
        "defects": list(mail.defects),
    }


def retry_inbound(session: Session, inbound_id: int) -> None:
    """Put failed message INBOUND_ID back in the pipeline's queue (every failed one:
    `postdesk.pipeline.worker.retry_failed`). Raises NotRetryable when it is missing or not failed."""
    status = session.execute(select(Inbound.status).where(Inbound.id == inbound_id)).scalar_one_or_none()
    if status is None:
        raise NotRetryable(f"no inbound message {inbound_id}")
    if status != "failed":
        raise NotRetryable(f"inbound {inbound_id} is {status}, not failed: nothing to retry")
    forget_claims(session, [inbound_id])
    session.execute(update(Inbound).where(Inbound.id == inbound_id).values(status="pending"))


def list_outbox(
    session: Session, status: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Outgoing mail, oldest first; without STATUS everything not sent yet (held mail included)."""
    query = select(
        Outbox.id,
        Outbox.ticket_id,
        Outbox.kind,
        Outbox.message_id,
        Outbox.recipients,
        Outbox.status,
        Outbox.attempts,
        Outbox.next_attempt_at,
        Outbox.last_error,
        Outbox.created_at,
        Outbox.sent_at,
        Outbox.held_by,
    )
    query = query.where(Outbox.status == status) if status else query.where(Outbox.status.not_in(OUTBOX_DONE))
    rows = session.execute(query.order_by(Outbox.id).limit(limit)).all()
    return [
        {
            "id": row.id,
            "status": row.status,
            "ticket": row.ticket_id,
            "kind": row.kind,
            "message_id": row.message_id,
            "recipients": list(row.recipients),
            "attempts": row.attempts,
            "next_attempt_at": _iso(row.next_attempt_at),
            "last_error": row.last_error,
            "created_at": _iso(row.created_at),
            "sent_at": _iso(row.sent_at),
            "held_by": row.held_by,
        }
        for row in rows
    ]


def release_outbox(session: Session, outbox_id: int | None, now: datetime | None = None) -> int:
    """Send held mail OUTBOX_ID (None: every held one) despite the limit that held it.

    The row becomes due now; `held_by` stays, so what was released can be
    told afterwards. Raises NotRetryable when a single row is missing or not held.
    """
    due = {"status": "pending", "next_attempt_at": now or datetime.now(UTC)}
    return _make_due(session, outbox_id, due, ("held",), ", not held: nothing to release")


def retry_outbox(session: Session, outbox_id: int | None, now: datetime | None = None) -> int:
    """Make outbox row OUTBOX_ID (None: every failed one) due now, with a fresh count of attempts.

    A failed row and a pending row waiting for its next attempt qualify; a
    row being sent or already sent does not (NotRetryable for a single row).
    Attempts restart at 0 so the retried mail gets the full `max_attempts`
    again; `last_error` stays until the next attempt replaces it.
    """
    due = {"status": "pending", "next_attempt_at": now or datetime.now(UTC), "attempts": 0}
    return _make_due(session, outbox_id, due, ("failed", "pending"), ": nothing to retry")


def _make_due(
    session: Session, outbox_id: int | None, due: dict[str, Any], allowed: tuple[str, ...], refusal: str
) -> int:
    """Set DUE on row OUTBOX_ID if its status is one of ALLOWED (else NotRetryable, the
    status followed by REFUSAL); OUTBOX_ID None: on every row in status ALLOWED[0]."""
    if outbox_id is None:
        result = session.execute(update(Outbox).where(Outbox.status == allowed[0]).values(**due))
        return cast("CursorResult[Any]", result).rowcount or 0
    status = session.execute(select(Outbox.status).where(Outbox.id == outbox_id)).scalar_one_or_none()
    if status is None:
        raise NotRetryable(f"no outbox mail {outbox_id}")
    if status not in allowed:
        raise NotRetryable(f"outbox {outbox_id} is {status}{refusal}")
    session.execute(update(Outbox).where(Outbox.id == outbox_id).values(**due))
    return 1
