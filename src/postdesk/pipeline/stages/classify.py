"""The classify stage: customer, agent, auto-reply, bounce, abuse report or our own mail come back."""

from __future__ import annotations

from dataclasses import replace

from postdesk.classify.kind import classify as classify_mail
from postdesk.config.model import Settings
from postdesk.core.work import Work


def classify(work: Work, settings: Settings) -> Work:
    assert work.mail is not None
    result = classify_mail(work.mail, work.inbound.envelope_from, settings.own_addresses)
    return replace(
        work, kind=str(result.kind), kind_reason=result.reason, notes=work.note(f"kind {result.kind}")
    )
