"""The agent-mail stage: mail from agents, or to an agent's reply address.

It runs before threading and settles such mail itself, ending the
pipeline for it (no triage, no acknowledgement):

- to an agent reply address (``support+10001-a…@``) with a token valid for
  that ticket and the sender's agent address (and, with
  ``require_auth_results``, a trusted dkim/spf pass for the agent's domain):
  the agent's text goes to the customer and the commands run;
- anything else to such an address, or an agent's mail that only threads
  by header or subject: kept on the ticket as ``quarantined``, logged,
  nothing posted and nothing run;
- an agent's mail to the plain desk address: a new ticket when
  ``agents_may_open_tickets``, else a short how-to-reply mail to the agent.

A reply on a callback ticket whose caller is only guessed (voicemail/callers.py)
is held, and the agent told why, unless the same mail confirms the caller
(``#confirm-caller``): the text would go to whoever wrote a number into a signature.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from postdesk.agents.auth import authenticated
from postdesk.agents.commands import CONFIRM_CALLER, check_in_store, read_commands, run_commands
from postdesk.agents.directory import agent_by_address
from postdesk.agents.mailing import COMMAND_ERROR_KIND, HOWTO_KIND, mail_agent, ticket_tag
from postdesk.agents.merge import merged_target
from postdesk.agents.reply import answer_customer
from postdesk.config.model import AgentSettings
from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.deliver.limits import howto_limit
from postdesk.deliver.loopguard import auto_reply_allowed
from postdesk.parse.reply_text import split_reply
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Message, Participant, Ticket
from postdesk.threads.lookup import find_thread
from postdesk.threads.tokens import AGENT, ReplyToken, tokens_in, verify
from postdesk.tickets.record import file_mail
from postdesk.voicemail.callers import hints_of, is_unconfirmed

log = logging.getLogger(__name__)

# Kinds of the agent's stored mail: its text went to the customer; an
# internal note; commands only; refused for a command error; not trusted.
REPLIED = MailKind.AGENT.value
NOTE = "agent_note"
COMMANDS_ONLY = "agent_commands"
REJECTED = "agent_rejected"
QUARANTINED = "quarantined"


def agent_mail(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    if work.kind != MailKind.CUSTOMER or mail is None:
        return work
    recipients = [*work.inbound.recipients, *(a.email for a in (*mail.to, *mail.cc))]
    tokens = [t for t in tokens_in(recipients, env.settings.desk.address) if t.role == AGENT]
    agent = agent_by_address(env.settings, mail.sender_email) if mail.sender_email else None
    if tokens:
        return _to_reply_address(work, env, tokens, agent)
    if agent is not None:
        return _from_agent_without_token(work, env, agent)
    return work


def _to_reply_address(
    work: Work, env: StageEnv, tokens: list[ReplyToken], agent: AgentSettings | None
) -> Work:
    assert work.mail is not None
    valid = next((t for t in tokens if agent is not None and verify(env.secret, t, agent.email)), None)
    ticket = env.session.get(Ticket, (valid or tokens[0]).ticket_id)
    problem = ""
    if agent is None:
        problem = f"From {work.mail.sender_email or '(none)'} is not an agent"
    elif valid is None:
        problem = f"the reply token is not valid for this ticket and {agent.email}"
    elif ticket is None:
        problem = f"no ticket {valid.ticket_id}"
    elif env.settings.agent_mail.require_auth_results:
        verdict = authenticated(work.mail, agent.email, env.settings.agent_mail.trusted_authserv_id)
        problem = "" if verdict.passed else f"not authenticated: {verdict.reason}"
    if problem or ticket is None or agent is None:
        return _quarantine(work, env, ticket.id if ticket else None, problem, "reply_token")
    # A reply to a merged ticket's notification works on the ticket it was merged into.
    return _act(work, env, env.session.get_one(Ticket, merged_target(env.session, ticket.id)), agent)


def _from_agent_without_token(work: Work, env: StageEnv, agent: AgentSettings) -> Work:
    may_open = env.settings.agent_mail.agents_may_open_tickets
    assert work.mail is not None
    threaded = find_thread(work.mail, work.inbound.recipients, env.session, env.settings, env.secret)
    if threaded is not None:
        ticket_id, threaded_by = threaded
        as_customer = env.session.get(Participant, (ticket_id, work.mail.sender_email))
        if may_open and as_customer is not None and as_customer.role == "customer":
            return work  # the agent's own ticket, opened as a customer: a customer's follow-up
        why = "an agent's address without the agent's reply address"
        quarantined = _quarantine(work, env, ticket_id, why, threaded_by)
        return _send_howto(quarantined, env, agent)
    if may_open:
        return replace(work, notes=work.note(f"agent {agent.email} opens a ticket ([agent_mail] allows it)"))
    return _send_howto(replace(work, finished=f"agent {agent.email} wrote to the desk address"), env, agent)


def _quarantine(work: Work, env: StageEnv, ticket_id: int | None, why: str, threaded_by: str) -> Work:
    assert work.mail is not None
    log.warning(
        "agent mail quarantined: inbound %d from %s: %s",
        work.inbound.id,
        work.mail.sender_email or "(no sender)",
        why,
        extra={"inbound_id": work.inbound.id, "ticket_id": ticket_id, "kind": QUARANTINED},
    )
    if ticket_id is None:
        return replace(work, finished=f"quarantined, no ticket to keep it on: {why}")
    filing = replace(work, ticket_id=ticket_id, kind=QUARANTINED, threaded_by=threaded_by)
    stored = file_mail(env.session, env.settings, env.now, filing)
    message = env.session.get_one(Message, stored.message_row_id)
    message.defects = [*message.defects, f"quarantined: {why}"]
    return replace(stored, finished=f"quarantined on ticket {ticket_id}: {why}")


def _send_howto(work: Work, env: StageEnv, agent: AgentSettings) -> Work:
    assert work.mail is not None
    verdict = auto_reply_allowed(work.mail, work.inbound.envelope_from, env.settings.own_addresses)
    if not verdict.allowed:
        return replace(work, notes=work.note(f"no how-to-reply mail: {verdict.reason}"))
    # Such mail is often forged: at most [agent_mail] max_howtos_per_hour reach the agent, the rest is held.
    held = mail_agent(
        env.session,
        env.settings,
        env.templates,
        agent,
        template="agent_howto",
        kind=HOWTO_KIND,
        ticket_id=work.ticket_id,
        now=env.now,
        limits=(howto_limit(env.settings.agent_mail, HOWTO_KIND),),
        metrics=env.metrics,
        subject=work.mail.subject,
        desk_address=env.settings.desk.address,
    )
    if held is not None:
        return replace(work, notes=work.note(f"how-to-reply mail to {agent.email} held: {held.key} reached"))
    return replace(work, notes=work.note(f"how-to-reply mail queued to {agent.email}"))


def _act(work: Work, env: StageEnv, ticket: Ticket, agent: AgentSettings) -> Work:
    """An authenticated agent's mail: check every command, then answer, note and run them."""
    mail = work.mail
    assert mail is not None
    read = read_commands(split_reply(mail.text).new_text, env.settings)
    problems = [*read.problems, *check_in_store(env.session, env.settings, ticket, read.commands)]
    if problems:
        kind = REJECTED
    elif read.is_note:
        kind = NOTE
    else:
        kind = REPLIED if read.text else COMMANDS_ONLY
    confirming = tuple(c for c in read.commands if c.name == CONFIRM_CALLER)
    held = kind == REPLIED and not confirming and is_unconfirmed(env.session, ticket.id)
    filing = replace(work, ticket_id=ticket.id, kind=REJECTED if held else kind, threaded_by="agent_token")
    stored = file_mail(env.session, env.settings, env.now, filing)
    message = env.session.get_one(Message, stored.message_row_id)
    if problems:
        _tell_agent(env, ticket, agent, "agent_command_error", problems=[p.as_context() for p in problems])
        first = problems[0]
        return replace(stored, finished=f"agent {agent.email}: line {first.line}: {first.why}; nothing done")
    if held:
        hints = hints_of(env.session, ticket.id)
        message.defects = [*message.defects, "not sent: the caller is not confirmed"]
        _tell_agent(
            env, ticket, agent, "agent_caller_unconfirmed", callers=[hint.as_dict() for hint in hints]
        )
        guesses = ", ".join(hint.email for hint in hints)
        return replace(
            stored,
            finished=f"agent {agent.email}: reply not sent, the caller of ticket {ticket.id} is not confirmed"
            f" (probably {guesses}); nothing done",
        )
    message.text = read.text if kind != COMMANDS_ONLY else "\n".join(c.text for c in read.commands)
    # The caller first: the reply in the same mail then goes to them.
    said = run_commands(
        env.session, env.settings, env.templates, env.secret, ticket, confirming, agent, env.now
    )
    others = tuple(c for c in read.commands if c.name != CONFIRM_CALLER)
    if kind == REPLIED:
        # Files go along; inline parts (signature logos) belong to the agent's HTML, which is not sent.
        files = tuple(a for a in mail.attachments if not a.inline)
        answer_customer(
            env.session, env.settings, env.templates, env.secret, ticket, agent, read.text, files, env.now
        )
        said.append("reply sent to the customer")
    elif kind == NOTE:
        said.append("internal note")
    said += run_commands(env.session, env.settings, env.templates, env.secret, ticket, others, agent, env.now)
    return replace(
        stored, finished=f"agent {agent.email} on ticket {ticket.id}: {'; '.join(said) or 'nothing to do'}"
    )


def _tell_agent(env: StageEnv, ticket: Ticket, agent: AgentSettings, template: str, **context: Any) -> None:
    """Why nothing (or not all) of AGENT's mail was done, in TEMPLATE: bad commands, an unconfirmed caller."""
    mail_agent(
        env.session,
        env.settings,
        env.templates,
        agent,
        template=template,
        kind=COMMAND_ERROR_KIND,
        ticket_id=ticket.id,
        now=env.now,
        number=ticket.number,
        tag=ticket_tag(env.settings, ticket.number),
        subject=ticket.subject,
        **context,
    )
