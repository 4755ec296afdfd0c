"""Agent mail's pure parts: reading commands, Authentication-Results, who is notified, the config forms."""

from __future__ import annotations

import pytest

from agents_support import AGENTS
from postdesk.agents.auth import authenticated
from postdesk.agents.commands import read_commands
from postdesk.agents.directory import agents_to_notify, find_agents
from postdesk.agents.reply import signed_by
from postdesk.config.model import Settings
from postdesk.parse.mime import parse_mail
from postdesk.store.models import Ticket
from triage_support import settings_from

SETTINGS = settings_from(AGENTS)


def test_commands_at_the_top_then_the_reply() -> None:
    read = read_commands("#close\n\n#Priority  HIGH\nHallo Kim,\n#not a command here\n", SETTINGS)
    assert [(c.name, c.value, c.line) for c in read.commands] == [("close", "", 1), ("priority", "HIGH", 3)]
    assert read.problems == () and read.text == "Hallo Kim,\n#not a command here"
    assert not read.is_note


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("#queue nowhere", 1, "no queue 'nowhere' (queues: billing, support)"),
        ("#close\n#open", 2, "contradicts or repeats line 1 (#close)"),
        ("#level 2\n#escalate", 2, "contradicts or repeats line 1 (#level 2)"),
        ("#merge next", 1, "#merge needs a ticket number such as 10001, not 'next'"),
        ("#assign", 1, "#assign needs an agent's address or name"),
        ("#", 1, "unknown command #?"),
    ],
)
def test_bad_commands_name_the_line_and_why(text: str, line: int, why: str) -> None:
    [problem] = read_commands(text, SETTINGS).problems
    assert (problem.line, problem.why.split("; known")[0]) == (line, why)


def test_assign_by_address_or_name() -> None:
    assert [a.email for a in find_agents(SETTINGS, "BERT@example.com")] == ["bert@example.com"]
    assert [a.email for a in find_agents(SETTINGS, "anna")] == ["anna@example.com"]


def mail_with(*results: str) -> bytes:
    headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return f"{headers}From: anna@example.com\r\nSubject: x\r\n\r\nhi\r\n".encode()


@pytest.mark.parametrize(
    ("results", "passed"),
    [
        (["mx.example.com; dkim=pass header.d=example.com"], True),
        (["mx.example.com; dkim=pass header.i=@example.com"], True),
        (["mx.example.com; spf=pass smtp.mailfrom=anna@example.com"], True),
        (["mx.example.com; spf=pass smtp.mailfrom=example.com"], True),
        (["MX.EXAMPLE.COM 1; dkim=pass (good) header.d=Example.COM"], True),
        (["mx.example.com; dkim=pass header.d=evil.example"], False),
        (
            ["mx.example.com; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=anna@example.com"],
            False,
        ),
        (["evil.example; dkim=pass header.d=example.com"], False),
        (["mx.example.com; dmarc=pass header.from=example.com"], False),
        # Only the topmost header from the trusted server counts.
        (
            [
                "mx.example.com; dkim=fail header.d=example.com",
                "mx.example.com; dkim=pass header.d=example.com",
            ],
            False,
        ),
        ([], False),
    ],
)
def test_authentication_results(results: list[str], passed: bool) -> None:
    verdict = authenticated(parse_mail(mail_with(*results)), "anna@example.com", "mx.example.com")
    assert verdict.passed is passed, verdict.reason


def test_who_is_notified() -> None:
    ticket = Ticket(queue="support", level=1, assignee=None)
    assert [a.email for a in agents_to_notify(SETTINGS, ticket)] == ["anna@example.com"]
    ticket.level = 3  # nobody works level 3: all of the queue's agents
    assert [a.email for a in agents_to_notify(SETTINGS, ticket)] == ["anna@example.com", "bert@example.com"]
    ticket.assignee = "bert@example.com"
    assert [a.email for a in agents_to_notify(SETTINGS, ticket)] == ["bert@example.com"]
    assert agents_to_notify(SETTINGS, ticket, exclude=["BERT@example.com"]) == []


def test_agents_table_form_and_its_errors() -> None:
    settings = Settings.model_validate(
        {
            "agents": {
                "require_auth_results": True,
                "trusted_authserv_id": "mx",
                "members": [{"email": "a@b.example"}],
            }
        }
    )
    assert settings.agent_mail.require_auth_results and settings.agents[0].email == "a@b.example"
    with pytest.raises(ValueError, match="needs trusted_authserv_id"):
        Settings.model_validate({"agent_mail": {"require_auth_results": True}})
    with pytest.raises(ValueError, match="not both"):
        Settings.model_validate({"agents": {"agents_may_open_tickets": True}, "agent_mail": {}})


@pytest.mark.parametrize(
    ("text", "signed"),
    [
        ("Erledigt.\n\nViele Grüße\nAnna", True),
        ("Done.\n\nBest, Anna", True),
        ("Done.\n\nAnna Agentin\n", True),
        ("Done.", False),
        ("Anna said the server is back up, as the status page says now.", False),
        ("Done.\n\nBert", False),
        ("", False),
    ],
)
def test_a_reply_signed_with_the_agents_name_is_not_signed_twice(text: str, signed: bool) -> None:
    assert signed_by(text, "Anna Agentin") is signed
