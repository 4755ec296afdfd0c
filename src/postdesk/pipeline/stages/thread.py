"""The thread stage: the ticket this mail follows up, and how it was found (`postdesk.threads.lookup`)."""

from __future__ import annotations

from dataclasses import replace

from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.threads.lookup import find_thread


def thread(work: Work, env: StageEnv) -> Work:
    assert work.mail is not None
    if work.kind == MailKind.VOICEMAIL:
        return work  # filed by its caller (voicemail stage); a phone system's headers say nothing
    found = find_thread(work.mail, work.inbound.recipients, env.session, env.settings, env.secret)
    if found is None:
        return work
    ticket_id, how = found
    return replace(work, ticket_id=ticket_id, threaded_by=how, notes=work.note(f"threaded by {how}"))
