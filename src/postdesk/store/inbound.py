"""Reading the spool: an inbound row with its raw bytes, as the pipeline sees it (`InboundMessage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from postdesk.core.work import InboundMessage
from postdesk.store.models import Inbound, InboundClaim, InboundRaw

# What an `InboundMessage` is read from: the spool row joined with its bytes.
SELECT_INBOUND = select(
    Inbound.id, Inbound.received_at, Inbound.via, Inbound.envelope_from, Inbound.recipients, InboundRaw.raw
).join_from(Inbound, InboundRaw, InboundRaw.inbound_id == Inbound.id)


# A row of SELECT_INBOUND: id, received_at, via, envelope_from, recipients, raw.
InboundRow = Row[int, datetime, str, str | None, list[str], bytes]


def inbound_message(row: InboundRow) -> InboundMessage:
    """A row of `SELECT_INBOUND` as the pipeline's input."""
    return InboundMessage(
        id=row.id,
        received_at=row.received_at,
        via=row.via,
        envelope_from=row.envelope_from,
        recipients=tuple(row.recipients),
        raw=row.raw,
    )


def read_inbound(session: Session, inbound_id: int) -> InboundMessage | None:
    """The spooled message INBOUND_ID, bytes and envelope; None when there is none."""
    row = session.execute(SELECT_INBOUND.where(Inbound.id == inbound_id)).first()
    return inbound_message(row) if row is not None else None


def forget_claims(session: Session, inbound_ids: Select[Any] | list[int]) -> None:
    """Claims of a message an operator put back: it gets its full number of tries again."""
    session.execute(delete(InboundClaim).where(InboundClaim.inbound_id.in_(inbound_ids)))
