"""Delivery: the outbox, sent to a maildir (default) or an SMTP relay.

A row is leased (status ``sending``) in a short transaction, sent with no
transaction open, then marked ``sent``. A crash between the relay's 250 and
that mark is the one window where a mail can go out twice; the mail then
carries the same Message-ID both times. The maildir transport names each
file after its outbox row, which closes even that window for it.
Temporary failures (4xx, connection errors) retry with exponential backoff;
a 5xx is final and recorded. A bounce filed while the mail was in flight
keeps its row ``failed``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from postdesk.config.model import OutboundSettings
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.store.models import Outbox
from postdesk.store.session import Store

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Envelope:
    outbox_id: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes


class Prepare(Protocol):
    def __call__(self, session: Session, now: datetime) -> int:
        """Queue what is due to be written before sending (the agent digests); returns how many."""


class Transport(Protocol):
    def send(self, mail: Envelope) -> None:
        """Deliver MAIL; raise TemporaryFailure or PermanentFailure."""


class MaildirTransport:
    """Writes each mail as a file in a maildir's new/ (tmp/ first, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def send(self, mail: Envelope) -> None:
        name = f"{mail.outbox_id:012d}.postdesk"
        if (self.path / "new" / name).exists() or any((self.path / "cur").glob(f"{name}*")):
            return  # written before a crash cut the bookkeeping short
        tmp = self.path / "tmp" / name
        try:
            with tmp.open("wb") as handle:
                handle.write(b"Return-Path: <" + mail.sender.encode() + b">\r\n")
                handle.write(b"Delivered-To: " + ", ".join(mail.recipients).encode() + b"\r\n")
                handle.write(mail.raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, self.path / "new" / name)
        except OSError as error:
            raise TemporaryFailure(f"maildir write failed: {error}") from error


class SmtpTransport:
    def __init__(self, settings: OutboundSettings) -> None:
        url = urlsplit(settings.transport)
        self.host = url.hostname or "localhost"
        self.port = url.port or 25
        self.settings = settings

    def send(self, mail: Envelope) -> None:
        s = self.settings
        try:
            with smtplib.SMTP(self.host, self.port, timeout=s.timeout_seconds) as client:
                client.ehlo_or_helo_if_needed()
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if s.username:
                    client.login(s.username, s.resolved_password())
                refused = client.sendmail(mail.sender, list(mail.recipients), mail.raw)
        except smtplib.SMTPRecipientsRefused as error:
            raise _classified(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            text = f"{error.smtp_code} {error.smtp_error!r}"
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(text) from error
            raise TemporaryFailure(text) from error
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        if refused:
            raise _classified(refused)


def _classified(refused: dict[str, tuple[int, bytes]]) -> Exception:
    text = "; ".join(
        f"{rcpt}: {code} {msg.decode(errors='replace')}" for rcpt, (code, msg) in refused.items()
    )
    if all(500 <= code < 600 for code, _ in refused.values()):
        return PermanentFailure(text)
    return TemporaryFailure(text)


def transport_for(settings: OutboundSettings) -> Transport:
    if settings.transport.startswith("maildir:"):
        return MaildirTransport(Path(settings.transport.removeprefix("maildir:")))
    return SmtpTransport(settings)


@dataclass(frozen=True)
class Sender:
    store: Store
    transport: Transport
    settings: OutboundSettings
    metrics: Metrics = field(default_factory=NoMetrics)
    # Run in its own transaction before each round of sending (Desk.sender: the agent digests).
    prepare: Prepare | None = None

    def claim_due(self, now: datetime, limit: int = 50) -> list[Envelope]:
        with self.store.transaction() as session:
            rows = (
                session.execute(
                    select(Outbox)
                    .where(
                        or_(
                            (Outbox.status == "pending") & (Outbox.next_attempt_at <= now),
                            (Outbox.status == "sending") & (Outbox.lease_until < now),
                        )
                    )
                    .order_by(Outbox.next_attempt_at, Outbox.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            for row in rows:
                row.status = "sending"
                row.lease_until = now + LEASE
            return [Envelope(r.id, r.message_id, r.envelope_from, tuple(r.recipients), r.raw) for r in rows]

    def send_due(
        self, now: datetime | None = None, *, stop: Callable[[], bool] = lambda: False
    ) -> tuple[int, int]:
        """Send what is due, until STOP says so; returns (sent, failed-or-deferred).

        STOP is asked before each mail: a sender whose desk has gone away
        must not send the rest of its claim (their leases run out and a
        running desk sends them).
        """
        sent = troubled = 0
        now = now or datetime.now(UTC)
        if self.prepare is not None:
            with self.store.transaction() as session:
                self.prepare(session, now)
        claimed = self.claim_due(now)
        for done, mail in enumerate(claimed):
            if stop():
                self._release(claimed[done:])
                break
            try:
                self.transport.send(mail)
            except (TemporaryFailure, PermanentFailure) as error:
                self._record_failure(mail, error)
                troubled += 1
            else:
                self._record_sent(mail)
                self.metrics.delivery("sent")
                sent += 1
        return sent, troubled

    def _release(self, mails: list[Envelope]) -> None:
        """Give claimed mail back unsent, so the next sender need not wait out the lease."""
        with self.store.transaction() as session:
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_([mail.outbox_id for mail in mails]), Outbox.status == "sending")
                .values(status="pending", lease_until=None)
            )
        log.info("stopping: %d claimed mail(s) left unsent for the next sender", len(mails))

    def _record_sent(self, mail: Envelope) -> None:
        with self.store.transaction() as session:
            row = session.get_one(Outbox, mail.outbox_id, with_for_update=True)
            row.sent_at, row.lease_until = datetime.now(UTC), None
            row.attempts += 1
            # The relay took the mail, and its bounce may already have been filed
            # (a fast remote refusal, or this process slow to get here): the
            # bounce is the later news, so a failed row stays failed.
            bounced = row.status == "failed"
            if not bounced:
                row.status = "sent"
        # The count at info, the addresses at debug: an erased customer's
        # address must not stay behind in the logs (docs/privacy.md).
        log.info(
            "sent outbox %d <%s> to %d recipient(s)%s",
            mail.outbox_id,
            mail.message_id,
            len(mail.recipients),
            " (its bounce was filed before this was recorded; it stays failed)" if bounced else "",
        )
        log.debug("outbox %d went to %s", mail.outbox_id, ", ".join(mail.recipients))

    def _record_failure(self, mail: Envelope, error: Exception) -> None:
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            row = session.get_one(Outbox, mail.outbox_id)
            row.attempts += 1
            row.last_error = str(error)[:4000]
            row.lease_until = None
            final = isinstance(error, PermanentFailure) or row.attempts >= self.settings.max_attempts
            self.metrics.delivery("failed" if final else "deferred")
            if final:
                row.status = "failed"
                log.error("outbox %d failed for good after %d attempt(s): %s", row.id, row.attempts, error)
            else:
                row.status = "pending"
                row.next_attempt_at = now + self._backoff(row.attempts)
                log.warning("outbox %d deferred (attempt %d): %s", row.id, row.attempts, error)

    def _backoff(self, attempts: int) -> timedelta:
        seconds = self.settings.retry_base_seconds * 2 ** (attempts - 1)
        return timedelta(seconds=min(seconds, self.settings.retry_max_seconds))
