"""The abuse-report stage and the [faq] / [machine_mail] settings, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from postdesk.config import ConfigError, load_settings
from postdesk.config.model import Settings
from postdesk.core.work import InboundMessage, Work
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.stages.abuse_reports import file_abuse_report
from postdesk.triage.decision import Triaged

INBOUND = InboundMessage(1, datetime(2026, 11, 23, tzinfo=UTC), "smtp", "", ("support@example.com",), b"")


def env(**sections: dict) -> StageEnv:
    """What the stage reads: the settings (it touches neither the store nor templates)."""
    settings = Settings.model_validate(sections)
    return StageEnv(session=None, settings=settings, now=INBOUND.received_at, secret=b"", templates=None)  # type: ignore[arg-type]


def test_abuse_report_goes_to_the_abuse_queue_even_when_threaded() -> None:
    work = Work(
        inbound=INBOUND,
        kind="abuse_report",
        kind_reason="multipart/report feedback-report (ARF)",
        ticket_id=10001,
        threaded_by="in_reply_to",
    )
    filed = file_abuse_report(work, env(machine_mail={"abuse_queue": "fbl"}))
    assert filed.ticket_id is None and filed.threaded_by == "new"
    triaged = filed.fact(Triaged)
    assert triaged is not None
    assert (triaged.queue, triaged.first_response_due) == ("fbl", None)
    assert triaged.hits[0] == ("machine", "abuse_report", "not filed on ticket 10001 (in_reply_to)")
    assert filed.notes == ("abuse report → queue fbl",)


@pytest.mark.parametrize("kind", ["customer", "auto_reply", "bounce", "voicemail"])
def test_other_kinds_pass_unchanged(kind: str) -> None:
    work = Work(inbound=INBOUND, kind=kind).with_fact(Triaged("normal", "support", 1, None))
    assert file_abuse_report(work, env()) is work


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[faq]\nmin_score = -1\n", "[faq] min_score: Input should be greater than or equal to 0"),
        ("[faq]\nmax_suggestions = 11\n", "[faq] max_suggestions: Input should be less than or equal to 10"),
        (
            "[faq]\nmin_share_of_best = 2\n",
            "[faq] min_share_of_best: Input should be less than or equal to 1",
        ),
        ("[faq]\npaht = 'x'\n", "[faq] paht: unknown key"),
        ("[machine_mail]\nabuse_queue = 'a b'\n", "[machine_mail] abuse_queue: expected a short name"),
    ],
)
def test_bad_values_get_one_clear_line(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_defaults() -> None:
    settings = load_settings(None, {})
    assert settings.faq.path == "faq/" and settings.faq.max_suggestions == 3 and settings.faq.suggest
    assert settings.machine_mail.abuse_queue == "abuse"
