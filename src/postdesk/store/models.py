"""The tables. Changing one means adding an Alembic migration (docs/development.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Ticket numbers are the ticket ids, which start here so that a number looks
# like a ticket number ("[Ticket#10001]") and never needs a second lookup.
FIRST_TICKET_ID = 10001


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database.

    SQLite keeps no offset, so values are stored as UTC and given their
    timezone back on the way out; comparisons in SQL then stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
        bytes: LargeBinary,
    }


class Inbound(Base):
    """The durable spool: envelope and processing state, committed with the
    raw bytes (`InboundRaw`) before we say yes."""

    __tablename__ = "inbound"
    __table_args__ = (Index("ix_inbound_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(64))
    envelope_from: Mapped[str | None] = mapped_column(String(998))
    recipients: Mapped[list[str]]
    size: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]


class InboundRaw(Base):
    """A spooled message's raw bytes, in a row of their own.

    SQLite rewrites a whole row on every UPDATE, overflow pages included:
    marking a 40 KiB message done cost ~100 µs with its bytes in the row,
    3 µs without (docs/benchmarks.md, "Pipeline"). No foreign key: migration
    0012 must not rebuild `inbound`, which messages refer to.
    """

    __tablename__ = "inbound_raw"

    inbound_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    raw: Mapped[bytes]


class InboundClaim(Base):
    """One claim of a spooled message by a worker, committed before the worker processes it.

    A worker that dies on a message leaves its claims behind; the worker
    fails a message claimed `MAX_CLAIMS` times without finishing
    (`postdesk.pipeline.worker`). No foreign key: on PostgreSQL the claim is
    written on a second connection while the inbound row is locked.
    """

    __tablename__ = "inbound_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbound_id: Mapped[int] = mapped_column(BigId, index=True)
    claimed_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime]
    # Triage gives this contact's mail at least [triage] vip_priority.
    vip: Mapped[bool] = mapped_column(Boolean, default=False)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_priority", "status", "priority"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigId, Identity(start=FIRST_TICKET_ID), primary_key=True, autoincrement=True
    )
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | pending | closed | spam
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Set by triage, changed by agents' commands: how urgent, whose queue,
    # which support level, who has it, and when the first answer is due.
    priority: Mapped[str] = mapped_column(String(8), default="normal")  # low | normal | high | urgent
    queue: Mapped[str] = mapped_column(String(64), default="support")
    level: Mapped[int] = mapped_column(default=1)  # 1st, 2nd, 3rd level
    assignee: Mapped[str | None] = mapped_column(String(320))  # an agent's address
    first_response_due: Mapped[datetime | None]
    # A caller waits for a call back (voicemail).
    callback: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the spam stage filed it as spam (kept after `tickets not-spam`, which says so in the events).
    spam_reason: Mapped[str | None] = mapped_column(Text)
    # The trusted server saw DMARC fail for the From domain: no automatic mail to that From.
    forged_from: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    contact: Mapped[Contact] = relationship(lazy="joined")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        return str(self.id)


class Participant(Base):
    """Who may add to a ticket by mail: its customer and the people on Cc."""

    __tablename__ = "participants"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)  # lower-cased
    role: Mapped[str] = mapped_column(String(16))  # customer | cc

    ticket: Mapped[Ticket] = relationship(back_populates="participants")


class Message(Base):
    """One mail on a ticket, received or sent."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_ticket", "ticket_id", "id"),
        Index("ix_messages_rfc_id", "message_id"),
        Index("ix_messages_to_kind_created", "to_email", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(32))
    # The RFC 5322 Message-ID without angle brackets.
    message_id: Mapped[str] = mapped_column(String(998))
    # Inbound only: the delivery key (postdesk.parse.delivery_key). Storing the
    # same delivery twice fails on this, which is what makes processing idempotent.
    dedupe_key: Mapped[str | None] = mapped_column(String(1000), unique=True)
    from_email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(320), default="")
    to_email: Mapped[str] = mapped_column(String(320), default="")
    cc: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html_converted: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None]  # the mail's Date header for inbound mail
    created_at: Mapped[datetime]
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound.id"))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(default=list)
    defects: Mapped[list[str]] = mapped_column(default=list)
    # How this message found its ticket: new, reply_token, in_reply_to, subject_tag.
    threaded_by: Mapped[str] = mapped_column(String(32), default="new")

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.id"
    )


class Blob(Base):
    """Attachment content, stored once per distinct content (sha256)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    data: Mapped[bytes]


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    content_id: Mapped[str | None] = mapped_column(String(998))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Outbox(Base):
    """A mail to send, with its final bytes: a retry sends exactly the same mail."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        # The limits on automatic mail (deliver/limits.py) count by these; kind and
        # status in them too, so a count under a flood reads the index alone.
        Index("ix_outbox_to_mailbox", "to_mailbox", "created_at", "kind", "status"),
        Index("ix_outbox_to_domain", "to_domain", "created_at", "kind", "status"),
        Index("ix_outbox_kind_created", "kind", "created_at", "status"),
        Index("ix_outbox_held_by", "held_by", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    message_row_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(998))
    envelope_from: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]]
    raw: Mapped[bytes]
    # pending | sending | sent | failed | held (over a limit: sent only by `outbox release`)
    # | digested (a held agent notification, listed in a digest instead)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The first recipient's mailbox (postdesk.core.mail.mailbox_of) and domain.
    to_mailbox: Mapped[str | None] = mapped_column(String(320))
    to_domain: Mapped[str | None] = mapped_column(String(255))
    # The limit that held this mail (deliver/limits.py), kept after a release.
    held_by: Mapped[str | None] = mapped_column(String(32))


class Meta(Base):
    """Small per-desk values that must survive restarts (the generated token key)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ContactPhone(Base):
    """A contact's phone number (E.164), set by an agent or learned from a mail signature.

    A number may belong to several contacts (a shared switchboard, or a
    learned number that clashes): nothing is overwritten, the rows are
    flagged `conflict`, and a number set by an agent wins over learned ones.
    """

    __tablename__ = "contact_phones"
    __table_args__ = (UniqueConstraint("contact_id", "number", name="uq_contact_phones_contact_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164, "+49301234567"
    learned: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(Text, default="")  # "set by agent", "signature of message 12"
    created_at: Mapped[datetime]


class CallerHint(Base):
    """A contact a callback ticket's caller probably is, not yet confirmed.

    The calling number was only learned from that contact's mail signature,
    and anyone can write any number into a signature: until an agent
    confirms the caller (docs/voicemail.md), the ticket is not the
    contact's, nothing about the call is mailed to them and agents' replies
    on it are held. Confirming deletes the ticket's hints; the confirmation
    itself is recorded on `ContactPhone.source` and as a triage event.
    """

    __tablename__ = "caller_hints"
    __table_args__ = (UniqueConstraint("ticket_id", "contact_id", name="uq_caller_hints_ticket_contact"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164, the number that called
    created_at: Mapped[datetime]


class Voicemail(Base):
    """A voicemail recording received from the phone system, on the caller's ticket."""

    __tablename__ = "voicemails"
    __table_args__ = (Index("ix_voicemails_transcript", "transcript_status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The ticket is the message's: a merge that moves the message takes the voicemail along.
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    source: Mapped[str] = mapped_column(String(64))  # the configured source that recognised it
    caller: Mapped[str] = mapped_column(Text, default="")  # as the phone system wrote it
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164; None: anonymous
    caller_name: Mapped[str] = mapped_column(String(320), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))  # None: unknown caller
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    duration_from: Mapped[str] = mapped_column(String(8), default="")  # audio | text | ""
    # Why the recording is flagged (missing, empty, unreadable, truncated); None: fine.
    problem: Mapped[str | None] = mapped_column(Text)
    transcript_status: Mapped[str] = mapped_column(
        String(16), default=""
    )  # "" | pending | running | done | failed
    transcript_error: Mapped[str | None] = mapped_column(Text)
    transcript_started_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    called_at: Mapped[datetime | None]
    called_note: Mapped[str | None] = mapped_column(Text)


# The acknowledgement's expected response time and `postdesk stats` read the
# recent tickets of one queue and priority.
Index("ix_tickets_queue_priority_created", Ticket.queue, Ticket.priority, Ticket.created_at)


class TriageEvent(Base):
    """One thing triage (or an escalation) decided about a ticket, and why: `postdesk triage explain`."""

    __tablename__ = "triage_events"
    __table_args__ = (Index("ix_triage_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime]
    # address | rule | default | urgent | vip | sla | follow-up | escalate | feature
    step: Mapped[str] = mapped_column(String(16))
    # The rule, address or command behind it.
    name: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class FeatureRequest(Base):
    """A wish customers asked for, once per distinct wish; its asks count how often."""

    __tablename__ = "feature_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | accepted | rejected | done
    # Why it was rejected, in words agents can quote to the customer.
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FeatureAsk(Base):
    """One ticket asking for a feature request."""

    __tablename__ = "feature_asks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feature_request_id: Mapped[int] = mapped_column(ForeignKey("feature_requests.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    asked_at: Mapped[datetime]
    # The wording compared with later asks (subject and the start of the text, normalised).
    text: Mapped[str] = mapped_column(Text, default="")
    # The request's status when this ask came in: a "rejected" here is a customer asking again.
    status_then: Mapped[str] = mapped_column(String(16), default="new")


class DedupeEntry(Base):
    """A received mail as the dedupe rules compare it (normalised once, at arrival).

    The candidate index is rebuilt from these rows on start, so nothing is normalised twice.
    """

    __tablename__ = "dedupe_entries"
    __table_args__ = (
        Index("ix_dedupe_entries_sender_created", "sender", "created_at"),
        Index("ix_dedupe_entries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    # The ticket the message is on now (an unmerge moves it).
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    sender: Mapped[str] = mapped_column(String(320))  # lower-cased
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    quoted: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class DedupeDecision(Base):
    """What the dedupe stage decided for one received mail, with every candidate's score: `dedupe explain`."""

    __tablename__ = "dedupe_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)  # where it was filed
    action: Mapped[str] = mapped_column(String(16))  # new | merge | cluster | flag
    rule: Mapped[str] = mapped_column(String(100), default="")  # the deciding rule; "" for new
    target_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    score: Mapped[float | None] = mapped_column(Float)
    # [{"ticket_id", "rule", "score", "verdict"}], best first.
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class DedupeCluster(Base):
    """Tickets of different customers that describe the same thing (an incident)."""

    __tablename__ = "dedupe_clusters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DedupeClusterMember(Base):
    __tablename__ = "dedupe_cluster_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("dedupe_clusters.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    score: Mapped[float | None] = mapped_column(Float)
    added_at: Mapped[datetime]


class DedupeLabel(Base):
    """An agent's correction (unmerge, removal from a cluster): a known wrong decision for `replay`."""

    __tablename__ = "dedupe_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # unmerge | cluster_remove
    message_row_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The ticket it was wrongly put with (the merge target, or a ticket of the cluster).
    other_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    cluster_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime]


class ImapMailboxState(Base):
    """How far `serve` has read one [[ingest.imap]] mailbox (docs/imap.md).

    `last_uid` only ever moves in the transaction that stores the mail up to
    it in the spool, so every UID at or below it is stored (or was refused):
    a restart neither imports it again nor skips anything above it.
    """

    __tablename__ = "imap_mailboxes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # user@host:port/folder: a mailbox pointed elsewhere starts afresh.
    source: Mapped[str] = mapped_column(String(1000))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    imported: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class TicketMerge(Base):
    """A ticket an agent merged into another (``#merge``): mail for it goes to the other one."""

    __tablename__ = "ticket_merges"

    source_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    merged_at: Mapped[datetime]
    # The agent's address (or "cli").
    merged_by: Mapped[str] = mapped_column(String(320), default="")


class FaqEntry(Base):
    """One FAQ entry as `postdesk faq index` last read it from the [faq] folder.

    The table is the FAQ index: every worker process reads it once at start
    and builds its BM25 index in memory (docs/faq.md says why a table).
    """

    __tablename__ = "faq_entries"

    # The file's path below the folder without ".md", e.g. "de/passwort-vergessen".
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2000), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    body: Mapped[str] = mapped_column(Text)
    # The file's SHA-256: what `faq index` compares to tell what changed.
    sha256: Mapped[str] = mapped_column(String(64))
    indexed_at: Mapped[datetime]


class BlockedSender(Base):
    """An address or a whole domain (``@example.com``) whose mail is filed as spam, silently."""

    __tablename__ = "blocked_senders"

    # A mailbox (lower-cased, without +tag: postdesk.core.mail.mailbox_of) or "@" and a domain.
    pattern: Mapped[str] = mapped_column(String(320), primary_key=True)
    created_at: Mapped[datetime]


class PrivacyAudit(Base):
    """That an erasure or a retention run happened: who, when, how many rows of each kind.

    Never whose data or what it said (docs/privacy.md): the line outlives the data.
    """

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))  # erase | retention
    ran_by: Mapped[str] = mapped_column(String(320))  # the OS user, or "serve"
    ran_at: Mapped[datetime]
    counts: Mapped[dict[str, Any]]
