"""The feature-requests stage: a new ticket a rule marked as a feature request joins
the most similar earlier one."""

from __future__ import annotations

from dataclasses import replace

from postdesk.core.work import Work
from postdesk.features.requests import (
    mark_feature,
)
from postdesk.pipeline.env import StageEnv
from postdesk.triage.decision import Triaged


def collect_feature_request(work: Work, env: StageEnv) -> Work:
    """Pipeline stage: a new ticket that a rule marked as a feature request joins its request."""
    triaged = work.fact(Triaged)
    if not (work.new_ticket and triaged and triaged.feature_rule):
        return work
    assert work.ticket_id is not None
    marked = mark_feature(
        env.session, work.ticket_id, env.now, env.settings.features.similarity, by=triaged.feature_rule
    )
    return replace(work, notes=work.note(marked.sentence()))
