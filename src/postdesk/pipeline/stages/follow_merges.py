"""The follow-merges stage: mail for a ticket merged by `#merge` goes on to the ticket it was merged into."""

from __future__ import annotations

from dataclasses import replace

from postdesk.agents.merge import merged_target
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv


def follow_merges(work: Work, env: StageEnv) -> Work:
    """Mail threaded to a merged ticket goes to the ticket it was merged into."""
    if work.ticket_id is None:
        return work
    ticket_id = merged_target(env.session, work.ticket_id)
    if ticket_id == work.ticket_id:
        return work
    note = f"ticket {work.ticket_id} was merged into {ticket_id}"
    return replace(work, ticket_id=ticket_id, notes=work.note(note))
