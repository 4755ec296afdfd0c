"""What a stage is given: the transaction, the settings, the clock, and the worker's resources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.work import Work
from postdesk.dedupe.index import CandidateIndex
from postdesk.faq.index import FaqIndex
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.templates.render import MailTemplates
from postdesk.triage.response_times import TypicalWaits


@dataclass(frozen=True, slots=True)
class StageEnv:
    """The dependencies of a stage, passed in rather than looked up."""

    session: Session
    settings: Settings
    now: datetime
    secret: bytes
    templates: MailTemplates
    # Per-worker memo of the acknowledgement's typical wait (None: always computed).
    typical_waits: TypicalWaits | None = None
    # Per-worker candidate index of the dedupe stage (None: built for this message from the store).
    dedupe_index: CandidateIndex | None = None
    # Where a stage reports decisions worth counting (postdesk.ops.metrics).
    metrics: Metrics = field(default_factory=NoMetrics)
    # The FAQ entries, loaded once per worker process (None: no suggestions).
    faq: FaqIndex | None = None


Stage = Callable[[Work, StageEnv], Work]
# A stage that reads only the message and the settings, never the store.
PureStage = Callable[[Work, Settings], Work]
