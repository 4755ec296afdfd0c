"""The store stage: the mail becomes a message on its ticket, or on a new one (`postdesk.tickets.record`)."""

from __future__ import annotations

from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.tickets.record import file_mail


def record(work: Work, env: StageEnv) -> Work:
    return file_mail(env.session, env.settings, env.now, work)
