"""Helpers for the triage tests: configs with arrays of tables, a pipeline run
at a chosen time, and ticket history written straight into the store."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.orm import Session

from conftest import Desk, spool, toml_dump
from postdesk.config.model import Settings
from postdesk.core.mail import Address
from postdesk.core.work import Work
from postdesk.pipeline import STAGES, prepare, run_stages
from postdesk.pipeline.env import Stage, StageEnv
from postdesk.store.inbound import read_inbound
from postdesk.store.migrate import upgrade
from postdesk.store.models import Inbound, Message, Ticket
from postdesk.store.session import Store, open_store
from postdesk.templates.render import MailTemplates
from postdesk.tickets.record import contact_for

# The issue's example, with a management address and a feature rule.
ISSUE_RULES = """
[[queues]]
name = "support"
addresses = ["support@example.com"]
hours = "Mo-Fr 08:00-18:00"
timezone = "Europe/Berlin"

[[queues]]
name = "billing"
addresses = ["billing@example.com", "rechnung@example.com"]

[[queues]]
name = "management"
addresses = ["management@example.com"]
rules_reroute = false

[[triage.rules]]
name = "locked-out"
match = { any_words = [
    "kein Zugriff", "komme nicht mehr", "Login fehlgeschlagen", "locked out", "can't log in", "cannot access",
] }
set = { priority = "urgent" }

[[triage.rules]]
name = "invoices-to-billing"
match = { subject_regex = "(?i)rechnung|invoice|abbuchung" }
set = { queue = "billing" }

[[triage.rules]]
name = "wishes"
match = { subject_regex = "(?i)wunsch|feature request" }
set = { feature_request = true, priority = "low" }

[sla]
first_response = { urgent = "1h", high = "4h", normal = "24h", low = "72h" }
"""

AGENTS = """
[[agents]]
email = "anna@example.com"
name = "Anna"
queues = ["support"]
level = 1

[[agents]]
email = "bert@example.com"
name = "Bert"
queues = ["support", "billing"]
level = 2

[[agents]]
email = "chef@example.com"
name = "Chefin"
queues = ["management"]
level = 3
"""


def configure(desk: Desk, toml: str) -> None:
    """Give DESK a config of its test settings plus TOML (arrays of tables that `toml_dump` cannot write)."""

    def write() -> None:
        desk.config.write_text(toml_dump(desk.settings) + toml)

    desk.write_config = write  # type: ignore[method-assign]
    write()


def settings_from(toml: str, **sections: dict) -> Settings:
    return Settings.model_validate(tomllib.loads(toml_dump(sections) + toml))


def open_migrated(url: str) -> Store:
    """The store at URL (from the `databases` fixture), migrated."""
    store = open_store(url)
    upgrade(store)
    return store


def migrated_store(url: str) -> Iterator[Store]:
    """For a fixture: ``yield from migrated_store(databases.url(tmp_path, "x"))``."""
    store = open_migrated(url)
    yield store
    store.dispose()


def process(
    store: Store,
    settings: Settings,
    message: EmailMessage,
    now: datetime,
    *,
    recipients: Sequence[str] = ("support@example.com",),
    stages: Sequence[tuple[str, Stage]] = STAGES,
) -> Work:
    """Store MESSAGE and run it through the pipeline as if the clock said NOW."""
    inbound_id = spool(store, message.as_bytes(), "kim@customer.example", tuple(recipients))
    with store.transaction() as session:
        row = session.get_one(Inbound, inbound_id)
        row.received_at = now
        row.status = "done"
        spooled = read_inbound(session, inbound_id)
        assert spooled is not None
        inbound = replace(spooled, received_at=now)
        env = StageEnv(session, settings, now, b"test-secret", MailTemplates())
        return run_stages(prepare(Work(inbound=inbound), settings), env, stages)


def add_ticket(
    session: Session,
    created: datetime,
    *,
    queue: str = "support",
    priority: str = "normal",
    due_after: timedelta | None = timedelta(hours=24),
    answered_after: timedelta | None = None,
    closed_after: timedelta | None = None,
    customer: str = "history@customer.example",
    subject: str = "history",
) -> Ticket:
    """A ticket as if it had been opened at CREATED, with an agent's answer and a close if given."""
    contact = contact_for(session, Address(customer), created)
    ticket = Ticket(
        subject=subject,
        status="closed" if closed_after is not None else "open",
        contact_id=contact.id,
        language="de",
        created_at=created,
        updated_at=created,
        closed_at=created + closed_after if closed_after is not None else None,
        priority=priority,
        queue=queue,
        level=1,
        first_response_due=created + due_after if due_after is not None else None,
    )
    session.add(ticket)
    session.flush()
    add_message(session, ticket, created, "in", "customer")
    add_message(session, ticket, created, "out", "acknowledgement")  # never counts as an answer
    if answered_after is not None:
        add_message(session, ticket, created + answered_after, "out", "agent_reply")
    return ticket


def add_message(
    session: Session, ticket: Ticket, at: datetime, direction: str, kind: str, threaded_by: str = "new"
) -> None:
    """A message on TICKET at AT: "in" from its customer, "out" to them."""
    customer = ticket.contact.email
    key = f"{kind}.{ticket.id}.{at.timestamp()}@history.example"
    session.add(
        Message(
            ticket_id=ticket.id,
            direction=direction,
            kind=kind,
            message_id=key,
            dedupe_key=key if direction == "in" else None,
            from_email=customer if direction == "in" else "support@example.com",
            to_email="support@example.com" if direction == "in" else customer,
            subject=ticket.subject,
            text="history",
            created_at=at,
            threaded_by=threaded_by,
        )
    )
    session.flush()
