"""Limits on automatic mail: what keeps the desk from amplifying a flood.

A limit counts the outbox rows of some kinds queued in a window — to one
mailbox (plus-tag and case folded), to one domain, or to anyone — and an
automatic mail that would go over it is queued ``held`` instead of
``pending``: the cause (the ticket) is stored as always, nothing is sent
until `postdesk outbox release`. Counting is an indexed query over the
outbox (migration 0014), so a limit holds across workers and restarts; rows
held or folded into a digest do not count, released ones do.

The first mail a limit holds in an hour is logged; the rest of that hour
only counts in ``postdesk_automatic_mail_held_total{limit=…}``, so a flood
does not become a flood of log lines too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select
from sqlalchemy.orm import Session

from postdesk.config.model import AgentMailSettings, RepliesSettings
from postdesk.core.mail import domain_of, mailbox_of
from postdesk.deliver.compose import Outgoing
from postdesk.deliver.outbox import enqueue
from postdesk.ops.metrics import Metrics
from postdesk.store.models import Outbox

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

# Automatic mail to customers (never an agent's own answer): what the
# per-mailbox, per-domain and global limits count.
CUSTOMER_KINDS = frozenset({"acknowledgement", "duplicate_notice", "voicemail_acknowledgement"})
# Outbox statuses of mail that was not, and will not be, sent as itself.
NOT_SENT = ("held", "digested")

# The names of the limits: `held_by` in the outbox and the metric's label.
PER_MAILBOX = "per_mailbox"
PER_DOMAIN = "per_domain"
GLOBAL = "global"
AGENT_NOTIFICATIONS = "agent_notifications"
AGENT_HOWTOS = "agent_howtos"

Scope = Literal["mailbox", "domain", "all"]


@dataclass(frozen=True, slots=True)
class Limit:
    """At most MAXIMUM mails of KINDS per WINDOW, counted per SCOPE of the recipient."""

    name: str
    maximum: int
    window: timedelta
    scope: Scope
    kinds: frozenset[str]
    # The config key that sets it, for the log line.
    key: str


def customer_limits(replies: RepliesSettings) -> tuple[Limit, ...]:
    """The three limits on automatic mail to customers, narrowest first."""
    return (
        Limit(PER_MAILBOX, replies.max_acks_per_sender_per_hour, HOUR, "mailbox", CUSTOMER_KINDS,
              "[replies] max_acks_per_sender_per_hour"),
        Limit(PER_DOMAIN, replies.max_acks_per_domain_per_hour, HOUR, "domain", CUSTOMER_KINDS,
              "[replies] max_acks_per_domain_per_hour"),
        Limit(GLOBAL, replies.max_acks_per_hour, HOUR, "all", CUSTOMER_KINDS, "[replies] max_acks_per_hour"),
    )  # fmt: skip


def notification_limit(agent_mail: AgentMailSettings, kind: str) -> Limit:
    """Notifications of KIND to one agent per minute (the rest go into a digest, agents/digest.py)."""
    return Limit(AGENT_NOTIFICATIONS, agent_mail.max_notifications_per_minute, MINUTE, "mailbox",
                 frozenset({kind}), "[agent_mail] max_notifications_per_minute")  # fmt: skip


def howto_limit(agent_mail: AgentMailSettings, kind: str) -> Limit:
    """How-to-reply mails of KIND to one agent per hour."""
    return Limit(AGENT_HOWTOS, agent_mail.max_howtos_per_hour, HOUR, "mailbox", frozenset({kind}),
                 "[agent_mail] max_howtos_per_hour")  # fmt: skip


def _count(recipient: ColumnElement[bool] | None = None) -> Select[int]:
    query = (
        select(func.count())
        .select_from(Outbox)
        .where(
            Outbox.kind.in_(bindparam("kinds", expanding=True)),
            Outbox.created_at > bindparam("since"),
            Outbox.status.not_in(NOT_SENT),
        )
    )
    return query if recipient is None else query.where(recipient)


# Built once: each automatic mail runs up to three of these, and building the
# statement cost as much as running it (measured: 580 µs against 240 µs).
_COUNTS: dict[Scope, Select[int]] = {
    "mailbox": _count(Outbox.to_mailbox == bindparam("mailbox")),
    "domain": _count(Outbox.to_domain == bindparam("domain")),
    "all": _count(),
}


def counted(session: Session, limit: Limit, address: str, now: datetime) -> int:
    """How many mails LIMIT has let through to ADDRESS's mailbox/domain (or anyone) in its window."""
    values = {
        "kinds": sorted(limit.kinds),
        "since": now - limit.window,
        "mailbox": mailbox_of(address),
        "domain": domain_of(address),
    }
    return session.execute(_COUNTS[limit.scope], values).scalar_one()


def reached(session: Session, limits: Sequence[Limit], address: str, now: datetime) -> Limit | None:
    """The first of LIMITS that one more mail to ADDRESS would go over; None when all allow it."""
    return next((limit for limit in limits if counted(session, limit, address, now) >= limit.maximum), None)


def enqueue_limited(
    session: Session,
    mail: Outgoing,
    limits: Sequence[Limit],
    metrics: Metrics,
    *,
    ticket_id: int | None,
    kind: str,
    envelope_from: str,
    now: datetime,
) -> Limit | None:
    """Queue MAIL (postdesk.deliver.outbox.enqueue), held when one of LIMITS is reached.

    Returns the limit that held it, None when it is queued to be sent.
    """
    limit = reached(session, limits, mail.to_address, now)
    if limit is not None:
        metrics.automatic_mail_held(limit.name)
        _log_first_in_hour(session, limit, mail, now)
    enqueue(
        session,
        mail,
        ticket_id=ticket_id,
        kind=kind,
        envelope_from=envelope_from,
        now=now,
        held_by=limit.name if limit else None,
    )
    return limit


def _log_first_in_hour(session: Session, limit: Limit, mail: Outgoing, now: datetime) -> None:
    earlier = session.execute(
        select(exists().where(Outbox.held_by == limit.name, Outbox.created_at > now - HOUR))
    ).scalar_one()
    if earlier:
        return
    log.warning(
        "automatic mail held: limit %s (%s = %d per %s) reached by mail to %s; "
        "further mail it holds this hour is counted, not logged (postdesk outbox list --status held)",
        limit.name,
        limit.key,
        limit.maximum,
        "minute" if limit.window == MINUTE else "hour",
        mail.to_address,
        extra={"limit": limit.name},
    )
