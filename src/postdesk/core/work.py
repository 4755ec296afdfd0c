"""What pipeline stages share: the message's progress (`Work`) and what they are given (`StageEnv`).

A stage is a plain function ``(Work, StageEnv) -> Work``. It reads what
earlier stages decided, adds its own decision with ``dataclasses.replace``,
and touches the database only through ``env.session`` (the one transaction
the whole message is processed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from postdesk.core.mail import Address, Mail
from postdesk.dedupe.rules import Pending
from postdesk.voicemail.call import Call


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A spool row as the pipeline sees it."""

    id: int
    received_at: datetime
    via: str
    envelope_from: str | None
    recipients: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Triaged:
    """Triage's decision for a new ticket; the store stage opens the ticket with it."""

    priority: str
    queue: str
    level: int
    first_response_due: datetime | None
    # What decided it, in order, as (step, name, detail); `postdesk triage explain` shows them.
    hits: tuple[tuple[str, str, str], ...] = ()
    # The rule that marked it a feature request, if one did.
    feature_rule: str = ""

    def ticket_fields(self) -> dict[str, object]:
        return {
            "priority": self.priority,
            "queue": self.queue,
            "level": self.level,
            "first_response_due": self.first_response_due,
        }


@dataclass(frozen=True, slots=True)
class Work:
    """One message's way through the stages; each stage fills in its part."""

    inbound: InboundMessage
    mail: Mail | None = None
    kind: str = ""
    kind_reason: str = ""
    dedupe_key: str = ""
    ticket_id: int | None = None
    threaded_by: str = "new"
    new_ticket: bool = False
    message_row_id: int | None = None
    # The sender marked it urgent (e.g. a PBX's urgent voicemail); triage raises the priority.
    urgent: bool = False
    # Set by a stage that ends processing early (e.g. a repeated delivery).
    finished: str | None = None
    # Short facts for the log line and the inbound row's result.
    notes: tuple[str, ...] = field(default=())
    # The ticket's customer when it is not the sender: a voicemail's caller, not the phone system.
    customer: Address | None = None
    # Set by the voicemail stage: the call a phone system's mail reports.
    voicemail: Call | None = None
    # Set by the triage stage for a mail that opens a new ticket.
    triage: Triaged | None = None
    # Set by the dedupe stage for a mail that did not thread: its normalised text and the decision.
    dedupe: Pending | None = None

    def note(self, text: str) -> tuple[str, ...]:
        return (*self.notes, text)
