"""The abuse-report stage: ARF reports go to their own queue, never to a customer's.

An ARF report (RFC 5965: a mailbox provider's feedback loop, a spam
complaint) is about mail the desk sent, not a customer asking for help. It
opens a ticket in `[machine_mail] abuse_queue` with no first-response due
time — even when its headers would thread it onto a customer's ticket — so
it is kept, visible to whoever watches that queue, and out of the customer
queues. Like every machine kind it is never answered (the loop guard).
"""

from __future__ import annotations

from dataclasses import replace

from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.triage.decision import Triaged


def file_abuse_report(work: Work, env: StageEnv) -> Work:
    if work.kind != MailKind.ABUSE_REPORT:
        return work
    queue = env.settings.machine_mail.abuse_queue
    hits: tuple[tuple[str, str, str], ...] = (
        (
            "machine",
            MailKind.ABUSE_REPORT,
            f"{work.kind_reason} → queue {queue}, kept out of the customer queues",
        ),
        ("sla", "", "abuse_report: nobody answers it, no due time"),
    )
    if work.ticket_id is not None:
        hits = (
            ("machine", MailKind.ABUSE_REPORT, f"not filed on ticket {work.ticket_id} ({work.threaded_by})"),
            *hits,
        )
    triaged = Triaged(priority="normal", queue=queue, level=1, first_response_due=None, hits=hits)
    return replace(
        work.with_fact(triaged),
        ticket_id=None,
        threaded_by="new",
        notes=work.note(f"abuse report → queue {queue}"),
    )
