"""Incident clusters: tickets of different customers about the same thing.

Each ticket stays its own (its customer, its thread, its acknowledgement);
the cluster links them so they can be seen and answered together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from postdesk.dedupe.rules import Decision
from postdesk.deliver.compose import Outgoing, new_message_id
from postdesk.deliver.outbox import enqueue
from postdesk.store.models import Contact, DedupeCluster, DedupeClusterMember, DedupeLabel, Message, Ticket
from postdesk.templates.render import MailTemplates
from postdesk.threads.tokens import make_token, reply_address

REPLY_KIND = "cluster_reply"


class ClusterError(Exception):
    """A request about clusters that cannot be carried out, in words for the user."""


def join_cluster(
    session: Session, ticket_id: int, like_ticket_ids: list[int], decision: Decision, now: datetime
) -> int:
    """Put TICKET with the tickets it reads like (best first); returns the cluster id.

    They join the cluster one of them is in (the oldest, when they are in
    several: those clusters are one incident after all, and merge), or start one.
    """
    candidates = [t for t in dict.fromkeys(like_ticket_ids) if t != ticket_id]
    # One query for where everyone is: an incident's cluster grows by hundreds of
    # mails, and each asks about up to 40 alike tickets.
    membership = clusters_of(session, [ticket_id, *candidates])
    clusters = sorted({membership[t] for t in candidates if t in membership})
    if clusters:
        cluster_id = clusters[0]
        for other in clusters[1:]:
            for member in session.execute(
                select(DedupeClusterMember).where(DedupeClusterMember.cluster_id == other)
            ).scalars():
                member.cluster_id = cluster_id
                membership[member.ticket_id] = cluster_id
            session.flush()
            session.delete(session.get_one(DedupeCluster, other))
        session.get_one(DedupeCluster, cluster_id).updated_at = now
    else:
        like = session.get_one(Ticket, candidates[0])
        cluster = DedupeCluster(title=like.subject, rule=decision.rule, created_at=now, updated_at=now)
        session.add(cluster)
        session.flush()
        cluster_id = cluster.id
    session.add_all(
        DedupeClusterMember(
            cluster_id=cluster_id,
            ticket_id=member_id,
            score=decision.score if member_id == ticket_id else None,
            added_at=now,
        )
        for member_id in (ticket_id, *candidates)
        if member_id not in membership
    )
    session.flush()
    return cluster_id


def clusters_of(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """ticket id → its cluster id, for those of TICKET_IDS in a cluster."""
    rows = session.execute(
        select(DedupeClusterMember.ticket_id, DedupeClusterMember.cluster_id).where(
            DedupeClusterMember.ticket_id.in_(ticket_ids)
        )
    )
    return {ticket: cluster for ticket, cluster in rows}


def list_clusters(session: Session) -> list[dict[str, Any]]:
    """Clusters, most recently grown first (the `clusters list --json` contract)."""
    counts = (
        select(
            DedupeClusterMember.cluster_id,
            func.count().label("size"),
            func.sum(case((Ticket.status != "closed", 1), else_=0)).label("open"),
        )
        .join(Ticket, Ticket.id == DedupeClusterMember.ticket_id)
        .group_by(DedupeClusterMember.cluster_id)
        .subquery()
    )
    rows = session.execute(
        select(DedupeCluster, counts.c.size, counts.c.open)
        .join(counts, counts.c.cluster_id == DedupeCluster.id)
        .order_by(DedupeCluster.updated_at.desc(), DedupeCluster.id.desc())
    ).all()
    return [
        {
            "id": cluster.id,
            "title": cluster.title,
            "rule": cluster.rule,
            "tickets": int(size),
            "open_tickets": int(open_ or 0),
            "created_at": cluster.created_at.isoformat(),
            "updated_at": cluster.updated_at.isoformat(),
        }
        for cluster, size, open_ in rows
    ]


def cluster_detail(session: Session, cluster_id: int) -> dict[str, Any]:
    cluster = session.get(DedupeCluster, cluster_id)
    if cluster is None:
        raise ClusterError(f"no cluster {cluster_id}")
    members = session.execute(
        select(DedupeClusterMember, Ticket, Contact.email)
        .join(Ticket, Ticket.id == DedupeClusterMember.ticket_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .where(DedupeClusterMember.cluster_id == cluster_id)
        .order_by(DedupeClusterMember.id)
    ).all()
    return {
        "id": cluster.id,
        "title": cluster.title,
        "rule": cluster.rule,
        "created_at": cluster.created_at.isoformat(),
        "updated_at": cluster.updated_at.isoformat(),
        "tickets": [
            {
                "id": ticket.id,
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status,
                "customer": email,
                "score": member.score,
                "added_at": member.added_at.isoformat(),
            }
            for member, ticket, email in members
        ],
    }


def remove_from_cluster(session: Session, ticket_id: int, now: datetime) -> int:
    """Take TICKET out of its cluster, recorded as a label for `replay`; returns the cluster id."""
    member = session.execute(
        select(DedupeClusterMember).where(DedupeClusterMember.ticket_id == ticket_id)
    ).scalar_one_or_none()
    if member is None:
        raise ClusterError(f"ticket {ticket_id} is in no cluster")
    cluster_id = member.cluster_id
    others = (
        session.execute(
            select(DedupeClusterMember.ticket_id)
            .where(DedupeClusterMember.cluster_id == cluster_id, DedupeClusterMember.ticket_id != ticket_id)
            .order_by(DedupeClusterMember.id)
        )
        .scalars()
        .all()
    )
    session.delete(member)
    session.add(
        DedupeLabel(
            kind="cluster_remove",
            ticket_id=ticket_id,
            other_ticket_id=others[0] if others else None,
            cluster_id=cluster_id,
            created_at=now,
        )
    )
    session.flush()
    return cluster_id


@dataclass(frozen=True, slots=True)
class ReplyDesk:
    """What answering a cluster needs from the desk."""

    name: str
    address: str
    ticket_tag: str
    envelope_from: str
    secret: bytes
    templates: MailTemplates


def reply_to_cluster(
    session: Session,
    cluster_id: int,
    desk: ReplyDesk,
    now: datetime,
    *,
    template: str | None = None,
    body: str | None = None,
) -> list[int]:
    """Answer every ticket of the cluster, each customer in their own thread; returns the ticket ids."""
    detail = cluster_detail(session, cluster_id)
    answered = []
    for member in detail["tickets"]:
        ticket = session.get_one(Ticket, member["id"])
        last_in = session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        tag = f"{desk.ticket_tag}{ticket.number}"
        token_address = reply_address(desk.address, make_token(desk.secret, ticket.id))
        customer_name = ticket.contact.name
        if template is not None:
            rendered = desk.templates.render(
                template,
                ticket.language,
                desk_name=desk.name,
                number=ticket.number,
                tag=tag,
                subject=ticket.subject,
                customer_name=customer_name,
                reply_address=token_address,
            )
            subject, text = rendered.subject, rendered.body
        else:
            assert body is not None
            subject, text = f"Re: {ticket.subject}", body
        subject = subject if f"[{tag}]" in subject else f"[{tag}] {subject}"
        references: tuple[str, ...] = ()
        in_reply_to = None
        if last_in is not None and last_in.message_id:
            in_reply_to = last_in.message_id
            references = (*last_in.references, last_in.message_id)
        enqueue(
            session,
            Outgoing(
                from_name=desk.name,
                from_address=desk.address,
                to_name=customer_name,
                to_address=ticket.contact.email,
                subject=subject,
                body=text,
                message_id=new_message_id("cluster", desk.address.rpartition("@")[2]),
                date=now,
                in_reply_to=in_reply_to,
                references=references,
                reply_to=token_address,
                language=ticket.language,
            ),
            ticket_id=ticket.id,
            kind=REPLY_KIND,
            envelope_from=desk.envelope_from,
            now=now,
        )
        ticket.updated_at = now
        answered.append(ticket.id)
    return answered
