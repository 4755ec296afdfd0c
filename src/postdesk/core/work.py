"""What every stage shares: a spooled message (`InboundMessage`) and its progress (`Work`).

A stage is a plain function ``(Work, StageEnv) -> Work`` (`postdesk.pipeline.env`).
It reads what earlier stages decided, adds its own decision with
``dataclasses.replace`` (or `Work.with_fact`), and touches the database
only through ``env.session``, the one transaction the whole message is
processed in.

The kernel knows no feature: what a feature's stage learns for the stages
after it (triage's decision, the voicemail call, the dedupe result) is a
*fact*, an immutable value of that feature's own type, kept in `Work.facts`
and read back with `Work.fact(ThatType)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from postdesk.core.mail import Address, Mail

FactT = TypeVar("FactT")


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
    # What feature stages learned for later stages, at most one value per type:
    # the voicemail call, triage's decision for a new ticket, the dedupe result.
    facts: tuple[object, ...] = ()

    def note(self, text: str) -> tuple[str, ...]:
        return (*self.notes, text)

    def fact(self, kind: type[FactT]) -> FactT | None:
        """The fact of type KIND an earlier stage recorded, or None."""
        for value in self.facts:
            if isinstance(value, kind):
                return value
        return None

    def with_fact(self, value: object) -> Work:
        """A copy of this Work whose fact of VALUE's type is VALUE (replacing an earlier one)."""
        kept = tuple(fact for fact in self.facts if type(fact) is not type(value))
        return replace(self, facts=(*kept, value))
