"""The skip-repeated-delivery stage: a message stored already under its delivery key ends here."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import bindparam, select

from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Message

# How a repeated delivery "found" its ticket, in the log line and its JSON form.
REPEATED_DELIVERY = "repeated_delivery"

# Built once: SQLAlchemy then finds its compiled form without re-walking the statement.
_STORED_WITH_KEY = select(Message.id, Message.ticket_id).where(Message.dedupe_key == bindparam("key"))


def skip_repeated_delivery(work: Work, env: StageEnv) -> Work:
    # Messages are written past the ORM (postdesk.store.rows), so a plain read sees them all.
    earlier = env.session.connection().execute(_STORED_WITH_KEY, {"key": work.dedupe_key}).first()
    if earlier is None:
        return work
    return replace(
        work,
        ticket_id=earlier.ticket_id,
        # Not "new" (Work's default): the log line would call the ticket new.
        threaded_by=REPEATED_DELIVERY,
        finished=f"repeated delivery of message {earlier.id} on ticket {earlier.ticket_id}",
    )
