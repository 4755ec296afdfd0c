"""Commands at the top of an agent's reply: ``#close``, ``#priority high``, ….

Reading (`read_commands`) is pure; checking against the store
(`check_in_store`) and running (`run_commands`) take the session. The
caller runs nothing unless every line was understood: one bad line and the
agent gets a reply naming it, and the ticket stays as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.agents.directory import find_agents, known_queues
from postdesk.agents.escalation import escalate, why_not_escalate
from postdesk.agents.files import mail_files
from postdesk.agents.merge import merge_into
from postdesk.config.model import PRIORITIES, AgentSettings, Settings
from postdesk.store.models import Contact, Ticket, TriageEvent
from postdesk.templates.render import MailTemplates
from postdesk.voicemail.callers import (
    confirm_by_link,
    confirm_caller,
    confirmed_by,
    hints_of,
    unknown_caller_number,
)
from postdesk.voicemail.numbers import display

# name -> what its argument is, for the error reply ("" = takes none).
COMMANDS: dict[str, str] = {
    "note": "",
    "close": "",
    "open": "",
    "pending": "",
    "assign": "an agent's address or name",
    "priority": "low, normal, high or urgent",
    "queue": "a queue name",
    "level": "a support level",
    "merge": "a ticket number",
    "escalate": "",
    "files": "",
    "confirm-caller": "",
}
CONFIRM_CALLER = "confirm-caller"
# Commands whose argument may be left out: #escalate takes an optional reason,
# #confirm-caller the caller's address (needed when the ticket names several).
OPTIONAL_ARGUMENT = frozenset({"escalate", CONFIRM_CALLER})
# Commands that change the same thing: two of one group in a mail contradict each other.
_GROUPS = {"close": "status", "open": "status", "pending": "status", "escalate": "level"}
_LINE = re.compile(r"^#(?P<name>\S*)\s*(?P<value>.*)$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    value: str
    line: int  # 1-based line of the agent's text
    text: str  # the line as written


@dataclass(frozen=True, slots=True)
class Problem:
    """A command line the desk did not run. `why` is the English sentence (for
    logs and the English template); `reason` and `facts` let a template say it
    in its own language (templates/de/agent_command_error.txt)."""

    line: int
    text: str
    why: str
    reason: str
    facts: tuple[tuple[str, str], ...] = ()

    def as_context(self) -> dict[str, object]:
        return {
            "line": self.line,
            "text": self.text,
            "why": self.why,
            "reason": self.reason,
            **dict(self.facts),
        }


def _problem(line: int, text: str, reason: str, why: str, **facts: object) -> Problem:
    # Booleans as "yes"/"" so that a template's {% if %} reads them as written.
    shown = {
        key: ("yes" if value else "") if isinstance(value, bool) else str(value)
        for key, value in facts.items()
    }
    return Problem(line, text, why, reason, tuple(shown.items()))


@dataclass(frozen=True, slots=True)
class ReadCommands:
    commands: tuple[Command, ...]
    problems: tuple[Problem, ...]
    text: str  # what follows the command lines: the reply itself

    @property
    def is_note(self) -> bool:
        return any(command.name == "note" for command in self.commands)


def read_commands(text: str, settings: Settings) -> ReadCommands:
    """The command lines at the top of TEXT (blank lines between them allowed), checked against SETTINGS."""
    lines = text.splitlines()
    commands: list[Command] = []
    problems: list[Problem] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            break
        if stripped:
            command, problem = _read_line(stripped, index + 1, settings)
            commands.extend([command] if command else [])
            problems.extend([problem] if problem else [])
        index += 1
    problems.extend(_conflicts(commands))
    rest = "\n".join(lines[index:]).strip()
    return ReadCommands(tuple(commands), tuple(problems), rest)


def _read_line(line: str, number: int, settings: Settings) -> tuple[Command | None, Problem | None]:
    match = _LINE.match(line)
    assert match is not None  # every stripped line starting with '#' matches
    name, value = match["name"].lower(), " ".join(match["value"].split())
    if name not in COMMANDS:
        known = ", ".join(f"#{known}" for known in COMMANDS)
        why = f"unknown command #{name or '?'}; known: {known}"
        return None, _problem(number, line, "unknown_command", why, name=name or "?", known=known)
    wants = COMMANDS[name]
    if not wants and value and name not in OPTIONAL_ARGUMENT:
        return None, _problem(number, line, "takes_no_argument", f"#{name} takes no argument", name=name)
    if wants and not value:
        return None, _problem(number, line, "needs_argument", f"#{name} needs {wants}", name=name)
    problem = _check_value(name, value, number, line, settings)
    if problem:
        return None, problem
    return Command(name, value, number, line), None


def _check_value(name: str, value: str, number: int, line: str, settings: Settings) -> Problem | None:
    levels = settings.triage.levels
    if name == "priority" and value.lower() not in PRIORITIES:
        why = f"#priority needs {COMMANDS['priority']}, not {value!r}"
        return _problem(number, line, "bad_priority", why, value=value)
    if name == "level" and not (value.isdigit() and 1 <= int(value) <= levels):
        why = f"#level needs a number from 1 to {levels}, not {value!r}"
        return _problem(number, line, "bad_level", why, value=value, levels=levels)
    if name == "queue" and value not in known_queues(settings):
        queues = ", ".join(known_queues(settings))
        why = f"no queue {value!r} (queues: {queues})"
        return _problem(number, line, "no_queue", why, value=value, queues=queues)
    if name == "merge" and not value.isdigit():
        why = f"#merge needs a ticket number such as 10001, not {value!r}"
        return _problem(number, line, "bad_ticket_number", why, value=value)
    if name == CONFIRM_CALLER and value and ("@" not in value or " " in value):
        why = f"#confirm-caller takes the caller's mail address, not {value!r}"
        return _problem(number, line, "bad_caller_address", why, value=value)
    if name == "assign":
        found = find_agents(settings, value)
        if not found:
            why = f"no agent {value!r} (give an agent's address or name as in the config)"
            return _problem(number, line, "no_agent", why, value=value)
        if len(found) > 1:
            why = f"{value!r} names {len(found)} agents; give the address"
            return _problem(number, line, "several_agents", why, value=value, count=len(found))
    return None


def _conflicts(commands: list[Command]) -> list[Problem]:
    problems = []
    seen: dict[str, Command] = {}
    for command in commands:
        group = _GROUPS.get(command.name, command.name)
        earlier = seen.get(group)
        if earlier is not None:
            why = f"contradicts or repeats line {earlier.line} ({earlier.text})"
            problems.append(
                _problem(
                    command.line,
                    command.text,
                    "contradicts",
                    why,
                    earlier_line=earlier.line,
                    earlier_text=earlier.text,
                )
            )
        else:
            seen[group] = command
    return problems


def check_in_store(
    session: Session, settings: Settings, ticket: Ticket, commands: tuple[Command, ...]
) -> list[Problem]:
    """What the store says against the commands: a #merge target that is missing, closed or
    this ticket; an #escalate past the top; a #confirm-caller with no caller to confirm."""
    problems = []
    for command in commands:
        if command.name == CONFIRM_CALLER and (problem := _check_caller(session, ticket, command)):
            problems.append(problem)
        if command.name == "escalate" and (refused := why_not_escalate(ticket, settings)):
            reason = "ticket_closed" if ticket.status == "closed" else "at_the_top"
            triage = settings.triage
            facts = {
                "number": ticket.id,
                "levels": triage.levels,
                "management": ticket.queue == triage.management_queue,
                "no_management_queue": not triage.management_queue,
            }
            problems.append(_problem(command.line, command.text, reason, refused, **facts))
        if command.name != "merge":
            continue
        target = session.get(Ticket, int(command.value))
        line, text, number = command.line, command.text, command.value
        if int(number) == ticket.id:
            problems.append(
                _problem(line, text, "merge_into_itself", "a ticket cannot be merged into itself")
            )
        elif target is None:
            problems.append(_problem(line, text, "no_ticket", f"no ticket {number}", number=number))
        elif target.status == "closed":
            problems.append(
                _problem(line, text, "ticket_closed", f"ticket {number} is closed", number=number)
            )
    return problems


def _check_caller(session: Session, ticket: Ticket, command: Command) -> Problem | None:
    line, text, address = command.line, command.text, command.value.lower()
    number = unknown_caller_number(session, ticket.id)
    if number is None:
        why = f"ticket {ticket.id} has no caller to confirm: no call on it came from an unconfirmed number"
        return _problem(line, text, "no_caller_to_confirm", why, number=ticket.id)
    hints = hints_of(session, ticket.id)
    if not address and len(hints) != 1:
        if not hints:
            why = f"the desk has no guess who called from {display(number)}: give the caller's address"
            return _problem(line, text, "caller_needs_address", why, phone=display(number))
        names = ", ".join(hint.email for hint in hints)
        why = f"ticket {ticket.id} names {len(hints)} probable callers ({names}): give the address of one"
        return _problem(line, text, "several_callers", why, count=len(hints), names=names)
    if address and _contact(session, address) is None:
        why = f"no contact {address} (the desk has had no mail from this address)"
        return _problem(line, text, "no_contact", why, value=address)
    return None


def _contact(session: Session, address: str) -> Contact | None:
    return session.execute(select(Contact).where(Contact.email == address.lower())).scalar_one_or_none()


def run_commands(
    session: Session,
    settings: Settings,
    templates: MailTemplates,
    secret: bytes,
    ticket: Ticket,
    commands: tuple[Command, ...],
    agent: AgentSettings,
    now: datetime,
) -> list[str]:
    """Carry out checked COMMANDS on TICKET; returns what was done, one phrase each.

    Each is recorded as a triage event (step "agent"), so `postdesk triage
    explain` shows who changed what. #merge runs last: it closes TICKET.
    """
    done = []
    for command in sorted(commands, key=lambda c: c.name == "merge"):
        if command.name == "escalate":
            # escalate() records its own triage event and notifies the next level.
            up = escalate(session, settings, templates, ticket.id, now, reason=command.value, by=agent.email)
            done.append(f"escalated to level {up.level} in {up.queue}")
            continue
        if command.name == "files":
            done.append(mail_files(session, settings, templates, secret, ticket, agent, now))
            continue
        detail = _run_one(session, settings, ticket, command, agent, now)
        if detail:
            session.add(
                TriageEvent(
                    ticket_id=ticket.id, created_at=now, step="agent", name=agent.email, detail=detail
                )
            )
            done.append(detail)
    ticket.updated_at = now
    return done


def _run_one(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    command: Command,
    agent: AgentSettings,
    now: datetime,
) -> str:
    name, value = command.name, command.value
    if name == "close":
        ticket.status, ticket.closed_at = "closed", now
        return "status → closed"
    if name in ("open", "pending"):
        ticket.status, ticket.closed_at = name, None
        return f"status → {name}"
    if name == "assign":
        [agent] = find_agents(settings, value)
        ticket.assignee = agent.email
        return f"assigned to {agent.email}"
    if name == "priority":
        before, ticket.priority = ticket.priority, value.lower()
        return f"priority {before} → {ticket.priority}"
    if name == "queue":
        before, ticket.queue = ticket.queue, value
        return f"queue {before} → {value}"
    if name == "level":
        old_level, ticket.level = ticket.level, int(value)
        return f"level {old_level} → {ticket.level}"
    if name == "merge":
        target = session.get_one(Ticket, int(value))
        merge_into(session, ticket, target, now, by=agent.email)
        linked = confirm_by_link(session, ticket, target, confirmed_by(agent.email, now), now)
        return f"merged into ticket {value}" + (f"; caller confirmed: {linked.email}" if linked else "")
    if name == CONFIRM_CALLER:
        number = unknown_caller_number(session, ticket.id)
        assert number is not None  # check_in_store refused the command otherwise
        address = value or hints_of(session, ticket.id)[0].email
        contact = _contact(session, address)
        assert contact is not None
        confirm_caller(session, ticket, contact, number, confirmed_by(agent.email, now), now)
        return f"caller confirmed: {contact.email} ({display(number)})"
    return ""  # note: nothing to change on the ticket
