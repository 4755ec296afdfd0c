"""What a stage is given: the transaction, the settings, the clock, and the worker's resources.

`StageEnv` is the same for every stage. What only some features need, built
once per worker process and kept across messages (the FAQ index, the dedupe
candidate index, the memo of typical waits), is a field of `Resources`: adding
a feature with such a resource adds a field there, and nothing to the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.work import Work
from postdesk.dedupe.index import CandidateIndex
from postdesk.faq.index import FaqIndex
from postdesk.language.detect import Detector
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.templates.render import MailTemplates
from postdesk.triage.response_times import TypicalWaits


@dataclass(frozen=True, slots=True)
class Resources:
    """A worker's long-lived feature resources; None where a feature has none (then it reads the store)."""

    # The FAQ entries, loaded once per worker process (None: no suggestions).
    faq: FaqIndex | None = None
    # The dedupe stage's candidate index, kept across messages (None: built for this message from the store).
    dedupe_index: CandidateIndex | None = None
    # The acknowledgement's typical wait, memoised (None: always computed).
    typical_waits: TypicalWaits | None = None
    # The language detector; its model loads on the first new ticket and stays.
    language: Detector = field(default_factory=Detector)


@dataclass(frozen=True, slots=True)
class StageEnv:
    """The dependencies of a stage, passed in rather than looked up."""

    session: Session
    settings: Settings
    now: datetime
    secret: bytes
    templates: MailTemplates
    resources: Resources = field(default_factory=Resources)
    # Where a stage reports decisions worth counting (postdesk.ops.metrics).
    metrics: Metrics = field(default_factory=NoMetrics)


Stage = Callable[[Work, StageEnv], Work]
# A stage that reads only the message and the settings, never the store.
PureStage = Callable[[Work, Settings], Work]
