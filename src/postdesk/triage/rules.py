"""The triage stage: queue, priority, level and first-response due time.

For a mail that opens a ticket, in this order:

1. **queue by address**: the first recipient (envelope, then To, then Cc)
   that is a queue's address routes the mail there; else `[triage]
   default_queue`;
2. **rules** (`[[triage.rules]]`, read top-down, then the built-in urgency
   rules of ``default_rules.toml`` that the config does not replace; all of
   them read only what the customer newly wrote: subject and text without
   quote and signature): the first rule that sets a
   queue moves the ticket there (unless its queue address has
   ``rules_reroute = false``), the first that sets a level sets it, and the
   priority is the highest any matching rule gives (``normal`` when none
   sets one; a rule may also set ``low``); machine mail (bounces,
   auto-replies, abuse reports) keeps ``normal`` whatever the rules say;
3. the sender's **urgent** flag (an urgent voicemail) makes it urgent, and a
   **VIP** sender gets at least `[triage] vip_priority`;
4. the **due time** of the first answer: `[sla] first_response` for that
   priority, counted in the queue's business hours from when the mail arrived.

Each step that decided something is kept as a `TriageEvent` for
`postdesk triage explain`.

A follow-up keeps its ticket's queue and level; only its priority may go up,
by the same rules (read on the follow-up's own words, not on what it quotes),
the urgent flag or a VIP sender — a customer who writes "still locked out"
expects the desk to hurry. Triage never lowers a follow-up's ticket.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from postdesk.config.model import PRIORITIES, QueueSettings, RuleMatch, Settings
from postdesk.core.kinds import MACHINE_KINDS, MailKind
from postdesk.core.mail import Mail
from postdesk.core.work import Work
from postdesk.parse.reply_text import split_reply
from postdesk.store.models import Contact, Ticket
from postdesk.store.responses import answered
from postdesk.triage.decision import Triaged
from postdesk.triage.defaults import effective_rules

# Mail no person wrote, or that no one answers: no first-response due time.
NO_ANSWER_KINDS = MACHINE_KINDS
# Follow-ups whose words may raise a ticket's priority: the customer's own mail and calls.
RAISING_KINDS = frozenset({MailKind.CUSTOMER, MailKind.VOICEMAIL})


def rank(priority: str) -> int:
    return PRIORITIES.index(priority)


@dataclass(frozen=True)
class _Route:
    queue: str
    address: str  # the queue address the mail was sent to; "" when not routed by address
    pinned: bool  # rules may not move it elsewhere


def decide(work: Work, session: Session, settings: Settings) -> Triaged:
    """What a new ticket gets, with the reasons."""
    mail = work.mail
    assert mail is not None
    route = route_by_address(_recipients(work), settings)
    hits: list[tuple[str, str, str]] = []
    if route.address:
        hits.append(("address", route.address, f"mail to {route.address} → queue {route.queue}"))
    else:
        hits.append(("default", "", f"no queue address among the recipients → queue {route.queue}"))
    queue, level, feature_rule = route.queue, 1, ""
    by_rules: str | None = None  # the highest priority a matching rule gives
    queue_set = level_set = False
    text = own_words(mail)
    for sourced in effective_rules(settings.triage):
        rule = sourced.rule
        matched = rule_matches(rule.match, mail.subject, text, mail.sender_email)
        if matched is None:
            continue
        effect, effects = rule.set, []
        if effect.priority and work.kind in MACHINE_KINDS:
            effects.append(f"priority {effect.priority} ignored: {work.kind} is machine mail")
        elif effect.priority:
            if by_rules is None or rank(effect.priority) > rank(by_rules):
                by_rules = effect.priority
                effects.append(f"priority {by_rules}")
            else:
                effects.append(f"priority {effect.priority} (kept {by_rules})")
        if effect.queue and not queue_set:
            queue_set = True
            if route.pinned:
                effects.append(f"queue {effect.queue} ignored: mail to {route.address} stays in {queue}")
            else:
                queue = effect.queue
                effects.append(f"queue {queue}")
        if effect.level and not level_set:
            level, level_set = effect.level, True
            effects.append(f"level {level}")
        if effect.feature_request and not feature_rule:
            feature_rule = rule.name
            effects.append("feature request")
        hits.append(("rule", rule.name, f"{matched} → {', '.join(effects) or 'nothing to change'}"))
    priority = by_rules or "normal"
    for step, name, raised_to, why in _raises(work, session, settings):
        if rank(raised_to) > rank(priority):
            priority = raised_to
            hits.append((step, name, f"{why} → priority {priority}"))
    due = None
    queue_settings = settings.queue(queue)
    if work.kind in NO_ANSWER_KINDS:
        hits.append(("sla", "", f"{work.kind}: nobody answers it, no due time"))
    else:
        due = first_response_due(settings, queue_settings, priority, work.inbound.received_at)
        hits.append(("sla", priority, _due_detail(settings, queue_settings, priority, due)))
    return Triaged(priority, queue, level, due, tuple(hits), feature_rule)


def first_response_due(settings: Settings, queue: QueueSettings, priority: str, start: datetime) -> datetime:
    """When the first answer is due: the priority's SLA, counted in the queue's hours from START."""
    return queue.business_hours().add(start, settings.sla.first_response.due_after(priority))


def _due_detail(settings: Settings, queue: QueueSettings, priority: str, due: datetime) -> str:
    hours = queue.hours or "around the clock"
    sla = getattr(settings.sla.first_response, priority)
    local = due.astimezone(queue.business_hours().timezone)
    return (
        f"first answer due {local:%Y-%m-%d %H:%M %Z}: {sla} for {priority} in {queue.name}'s hours ({hours})"
    )


def _has_answer(session: Session, ticket_id: int) -> bool:
    return session.execute(select(answered()).where(Ticket.id == ticket_id)).scalar_one()


def _raises(work: Work, session: Session, settings: Settings) -> Iterable[tuple[str, str, str, str]]:
    """(step, name, priority, why) for what raises a priority whatever the rules say."""
    if work.urgent:
        yield "urgent", "", "urgent", "the sender marked it urgent"
    sender = work.mail.sender_email if work.mail else ""
    vip = sender and session.connection().execute(_VIP, {"email": sender}).scalar()
    if vip:
        yield "vip", sender, settings.triage.vip_priority, f"{sender} is a VIP"


# Built once: SQLAlchemy then finds its compiled form without re-walking the statement.
_VIP = select(Contact.vip).where(Contact.email == bindparam("email"))


def route_by_address(recipients: Iterable[str], settings: Settings) -> _Route:
    """The queue of the first recipient that is a queue's address (``+tag`` ignored)."""
    owner = {address.lower(): queue for queue in settings.queues for address in queue.addresses}
    for recipient in recipients:
        queue = owner.get(base_address(recipient))
        if queue is not None:
            return _Route(queue.name, base_address(recipient), not queue.rules_reroute)
    return _Route(settings.triage.default_queue, "", False)


def base_address(address: str) -> str:
    """``billing+10001-xyz@example.com`` → ``billing@example.com``, lower-cased."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else address.strip().lower()


def _recipients(work: Work) -> list[str]:
    assert work.mail is not None
    return [*work.inbound.recipients, *(a.email for a in (*work.mail.to, *work.mail.cc))]


def own_words(mail: Mail) -> str:
    """What rules read: the subject and what the sender newly wrote, without the thread
    it quotes or the signature below it (a signature's "Notfall-Hotline" is no emergency)."""
    new_text = split_reply(mail.text).new_text
    # A quote with no "On … wrote:" above it stays in the new text (see reply_text.unquoted).
    own = "\n".join(line for line in new_text.splitlines() if not line.lstrip().startswith(">"))
    return f"{mail.subject}\n{own}"


def rule_matches(match: RuleMatch, subject: str, text: str, sender: str) -> str | None:
    """Why the rule matches (e.g. ``words "locked out"``), or None when it does not.

    TEXT is what the words are looked for in (subject and body); every
    condition the rule names must hold.
    """
    reasons = []
    if match.any_words or match.all_words:
        normalised = normalise(text)
        found_any = [w for w in match.any_words if _has_phrase(normalised, w)]
        if match.any_words and not found_any:
            return None
        if match.all_words and not all(_has_phrase(normalised, w) for w in match.all_words):
            return None
        reasons += [f'words "{w}"' for w in (*found_any[:1], *match.all_words)]
    if match.subject_regex:
        if not (found := re.search(match.subject_regex, subject)):
            return None
        reasons.append(f'subject "{found[0]}" ~ /{match.subject_regex}/')
    if match.text_regex:
        if not (found := re.search(match.text_regex, text)):
            return None
        reasons.append(f'text "{found[0][:60]}" ~ /{match.text_regex}/')
    if match.senders:
        hit = next((s for s in match.senders if _sender_is(sender, s)), None)
        if hit is None:
            return None
        reasons.append(f"sender {hit}")
    return "; ".join(reasons)


def _sender_is(sender: str, wanted: str) -> bool:
    wanted = wanted.lower()
    return sender.endswith(wanted) if wanted.startswith("@") else sender == wanted


def normalise(text: str) -> str:
    """Case, width, typographic apostrophes and line breaks do not matter to rules."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def _has_phrase(normalised_text: str, phrase: str) -> bool:
    words = normalise(phrase)
    return re.search(r"(?<!\w)" + re.escape(words) + r"(?!\w)", normalised_text) is not None
