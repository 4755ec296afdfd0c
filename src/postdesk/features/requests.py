"""Feature requests: "I'll pass that on", kept.

A ticket marked as a feature request (by a triage rule with
``set = { feature_request = true }``, or `postdesk tickets mark-feature`)
joins the earlier request it reads most like, or starts a new one. Each
request counts its asks and has a status (new, accepted, rejected, done) and,
when rejected, a reason agents can quote. A customer asking again for a
rejected wish still counts: the figure says how much it is wanted, not
whether the desk agreed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from postdesk.dedupe.normalise import normalise_mail
from postdesk.dedupe.rules import scorer
from postdesk.parse.reply_text import unquoted
from postdesk.parse.subject import without_prefixes
from postdesk.store.models import FeatureAsk, FeatureRequest, Ticket, TriageEvent
from postdesk.store.queries import first_inbound_text

STATUSES = ("new", "accepted", "rejected", "done")
# How many earlier asks a new one is compared with (the newest).
MAX_CANDIDATES = 5000
# How much of a mail's text describes the wish; the rest is detail.
TEXT_CHARS = 300
# Reply and forward prefixes and tags, kept out of a request's title.
# Words every request has (greetings, "please", "feature request"): they make
# unrelated wishes look alike, so they are left out before comparing.
_FILLER_WORDS = """
    a an the and or to of for in on at is it be are i you we our your my me please thanks thank
    hi hello dear regards could would can do does plan add support request feature wish idea some
    any this that with as by from have has
    der die das ein eine einen einem den dem des und oder zu für im am auf ist es sind ich sie wir
    ihr mein meine meinen bitte danke hallo guten tag gibt bald gern gerne hätte möglichkeit
    könntet könnten euch wunsch vorschlag idee mit als von
"""
_FILLER = frozenset(_FILLER_WORDS.split())
_SAME_WISH = scorer("token_set_ratio")


class FeatureError(Exception):
    """A request that cannot be carried out, in words for the user."""


def similarity(a: str, b: str) -> float:
    """How alike two wishes read, 0-100, on texts from `request_text`: the
    dedupe engine's token_set_ratio, so "same wish" and "same request" are
    judged alike."""
    return _SAME_WISH(a, b)


def request_text(subject: str, text: str) -> str:
    """The words that describe a wish: subject and the start of the mail's own text, normalised
    as the dedupe engine does (no quotes, signature, greeting, ticket tag), without filler words."""
    mail = normalise_mail(subject, unquoted(text))
    words = f"{mail.subject} {mail.body[:TEXT_CHARS]}".split()
    return " ".join(word for word in words if word not in _FILLER)


@dataclass(frozen=True)
class Marked:
    request_id: int
    title: str
    status: str
    reason: str
    count: int
    joined: bool  # an earlier request was asked again (False: a new request)
    score: float | None  # how alike it read, when it joined by similarity

    def sentence(self) -> str:
        said = f"feature request {self.request_id} {self.title!r}"
        if not self.joined:
            return f"new {said}"
        state = f"{self.status}: {self.reason}" if self.reason else self.status
        alike = f", similarity {self.score:.0f}" if self.score is not None else ""
        return f"asked again: {said} ({state}{alike}), now asked {self.count} times"


def mark_feature(
    session: Session,
    ticket_id: int,
    now: datetime,
    threshold: float,
    *,
    by: str,
    request_id: int | None = None,
    new: bool = False,
) -> Marked:
    """Count TICKET as asking for a feature: for REQUEST_ID, or a NEW request, else the most
    similar earlier one (else a new one). A ticket already counted moves only when told where."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise FeatureError(f"no ticket {ticket_id}")
    request: FeatureRequest | None = None
    if request_id is not None:
        request = session.get(FeatureRequest, request_id)
        if request is None:
            raise FeatureError(f"no feature request {request_id}")
    earlier = session.execute(select(FeatureAsk).where(FeatureAsk.ticket_id == ticket_id)).scalar()
    if earlier is not None:
        if request is None and not new:
            raise FeatureError(
                f"ticket {ticket_id} is already counted for feature request {earlier.feature_request_id}; "
                "move it with --to N or --new"
            )
        _uncount(session, earlier)
    text = request_text(ticket.subject, first_inbound_text(session, ticket_id))
    score = None
    if request is None and not new:
        request, score = _most_similar(session, text, threshold)
    joined = request is not None
    if request is None:
        title = without_prefixes(ticket.subject).strip() or text[:80] or f"ticket {ticket_id}"
        request = FeatureRequest(title=title, status="new", reason="", created_at=now, updated_at=now)
        session.add(request)
        session.flush()
    session.add(
        FeatureAsk(
            feature_request_id=request.id,
            ticket_id=ticket_id,
            asked_at=earlier.asked_at if earlier else now,
            text=text,
            status_then=request.status,
        )
    )
    request.updated_at = now
    session.flush()
    count = session.execute(
        select(func.count()).select_from(FeatureAsk).where(FeatureAsk.feature_request_id == request.id)
    ).scalar_one()
    marked = Marked(request.id, request.title, request.status, request.reason, count, joined, score)
    session.add(
        TriageEvent(ticket_id=ticket_id, created_at=now, step="feature", name=by, detail=marked.sentence())
    )
    return marked


def _uncount(session: Session, ask: FeatureAsk) -> None:
    """Take ASK off its request; a request nobody asks for any more goes."""
    request_id = ask.feature_request_id
    session.delete(ask)
    session.flush()
    if not session.execute(select(FeatureAsk.id).where(FeatureAsk.feature_request_id == request_id)).first():
        session.delete(session.get_one(FeatureRequest, request_id))


def _most_similar(
    session: Session, text: str, threshold: float
) -> tuple[FeatureRequest | None, float | None]:
    asks = session.execute(
        select(FeatureAsk.feature_request_id, FeatureAsk.text)
        .order_by(FeatureAsk.id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    best_id, best = None, 0.0
    for request_id, earlier in asks:
        score = similarity(text, earlier)
        if score > best:
            best_id, best = request_id, score
    if best_id is None or best < threshold:
        return None, None
    return session.get_one(FeatureRequest, best_id), best


def list_features(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    """Feature requests as dicts (the `features list --json` contract), most asked first."""
    stats = (
        select(
            FeatureAsk.feature_request_id.label("id"),
            func.count().label("count"),
            func.sum(case((FeatureAsk.status_then == "rejected", 1), else_=0)).label("after_rejection"),
            func.min(FeatureAsk.asked_at).label("first"),
            func.max(FeatureAsk.asked_at).label("last"),
        )
        .group_by(FeatureAsk.feature_request_id)
        .subquery()
    )
    query = (
        select(FeatureRequest, stats.c.count, stats.c.after_rejection, stats.c.first, stats.c.last)
        .join(stats, stats.c.id == FeatureRequest.id)
        .order_by(stats.c.count.desc(), stats.c.last.desc(), FeatureRequest.id)
    )
    if status:
        query = query.where(FeatureRequest.status == status)
    tickets: dict[int, list[str]] = {}
    for request_id, ticket_id in session.execute(
        select(FeatureAsk.feature_request_id, FeatureAsk.ticket_id).order_by(FeatureAsk.id)
    ):
        tickets.setdefault(request_id, []).append(str(ticket_id))
    return [
        {
            "id": request.id,
            "title": request.title,
            "status": request.status,
            "reason": request.reason,
            "count": count,
            "asked_after_rejection": int(after or 0),
            "first_asked": first.isoformat(),
            "last_asked": last.isoformat(),
            "tickets": tickets.get(request.id, []),
        }
        for request, count, after, first, last in session.execute(query).all()
    ]


def set_feature(
    session: Session,
    request_id: int,
    now: datetime,
    *,
    status: str | None = None,
    reason: str | None = None,
    title: str | None = None,
) -> FeatureRequest:
    """Change a request's status, reason or title; a rejection needs a reason."""
    request = session.get(FeatureRequest, request_id)
    if request is None:
        raise FeatureError(f"no feature request {request_id}")
    if status is not None:
        if status not in STATUSES:
            raise FeatureError(f"status must be one of {', '.join(STATUSES)}")
        request.status = status
    if reason is not None:
        request.reason = reason.strip()
    if title is not None and title.strip():
        request.title = title.strip()
    if request.status == "rejected" and not request.reason:
        raise FeatureError("a rejected request needs a --reason that agents can quote to customers")
    request.updated_at = now
    return request
