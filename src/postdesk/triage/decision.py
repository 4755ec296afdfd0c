"""Triage's decision for a new ticket: a fact the triage stage records and the store stage
opens the ticket with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
