"""The settings model. Every key has a default, so no config file is needed.

The TOML section and key names are a public contract (README, "Configuration").
Models are frozen: settings are read once and passed in, never changed.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from postdesk.config.values import (
    DEFAULT_DESK_ADDRESS,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_STORE_URL,
    STORE_URL,
    is_alias,
    is_plain_address,
)
from postdesk.core.hours import BusinessHours, parse_duration, parse_week
from postdesk.core.recipients import OwnRecipients, own_recipients


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_address(value: str) -> str:
    if not is_plain_address(value):
        raise ValueError("expected a plain mail address such as support@example.com")
    return value


class StoreSettings(Section):
    url: str = DEFAULT_STORE_URL
    # `serve` brings the schema up to date itself; set false where several
    # hosts share one database and `postdesk db upgrade` is run by hand.
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not STORE_URL.match(value):
            raise ValueError(
                "expected an SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
            )
        return value


class DeskSettings(Section):
    address: str = DEFAULT_DESK_ADDRESS
    name: str = "Example Support"
    language: Literal["de", "en"] = "de"
    # A customer writing a language the desk has no templates for is answered in
    # this one (a French customer of a German desk reads English sooner than German).
    fallback_language: Literal["de", "en"] = "en"
    # HMAC key for reply tokens. Empty: a random key is generated once and
    # kept in the database, so tokens stay valid across restarts.
    secret: str = ""
    # The subject tag is "[<ticket_tag><number>]", e.g. "[Ticket#10001]".
    ticket_tag: str = "Ticket#"
    # More recipients the listeners accept besides the desk's and the queues'
    # addresses: exact addresses, or "@domain" for every address at a domain
    # (a catch-all). Any other recipient is refused with 550 at RCPT.
    aliases: tuple[str, ...] = ()

    @field_validator("address")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            if not is_alias(alias):
                raise ValueError(
                    f"{alias!r} is neither a plain mail address (help@example.com) "
                    "nor '@domain' for a whole domain (@help.example)"
                )
        return value

    @field_validator("ticket_tag")
    @classmethod
    def _tag_chars(cls, value: str) -> str:
        if not value or any(c in value for c in "[]\r\n"):
            raise ValueError("expected a short text without brackets or line breaks, such as 'Ticket#'")
        return value


class SmtpListenerSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, gt=0)
    # More open connections than this: a new one is answered 421 at connect (the sender retries).
    max_sessions: int = Field(default=100, ge=1)


class LmtpListenerSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=2424, ge=0, le=65535)
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, gt=0)
    # More open connections than this: a new one is answered 421 at connect (the sender retries).
    max_sessions: int = Field(default=100, ge=1)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ImapMailboxSettings(Section):
    """One ``[[ingest.imap]]`` entry: a mailbox at a provider that `serve` reads (docs/imap.md)."""

    name: str
    host: str = Field(min_length=1)
    # 0: the standard port for `security` (993 for tls, 143 otherwise).
    port: int = Field(default=0, ge=0, le=65535)
    # "none" sends the password in clear text, so it is only allowed to a loopback host.
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str = ""
    password: str = ""
    password_file: str = ""
    folder: str = "INBOX"
    # Stored mail is moved here; empty: it stays in `folder` and is only flagged \Seen.
    processed_folder: str = ""
    # Mail over max_message_bytes is moved here (logged); empty: it stays in `folder`, flagged.
    refused_folder: str = ""
    # How often to look for mail on a server without IDLE (and the longest wait between looks).
    poll_seconds: float = Field(default=60.0, gt=0)
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError("expected a short name of letters, digits, '-', '_' or '.', such as 'support'")
        return value

    @field_validator("security")
    @classmethod
    def _clear_text_only_locally(cls, value: str, info: ValidationInfo) -> str:
        host = info.data.get("host", "")
        if value == "none" and host and not _is_loopback(host):
            raise ValueError(
                f"security 'none' would send the password in clear text to {host}; "
                "it is only allowed for a loopback host (127.0.0.1, ::1, localhost): use tls or starttls"
            )
        return value

    @field_validator("processed_folder", "refused_folder")
    @classmethod
    def _another_folder(cls, value: str, info: ValidationInfo) -> str:
        # Moving mail into the folder it is read from gives it a new UID: it would be read again forever.
        if value and value == info.data.get("folder"):
            raise ValueError(f"must be another folder than folder = {value!r} (or empty)")
        return value

    @field_validator("password_file")
    @classmethod
    def _one_password_source(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("password"):
            raise ValueError("set password or password_file, not both")
        return value

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    def resolved_password(self) -> str:
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        return self.password


class IngestSettings(Section):
    smtp: SmtpListenerSettings = SmtpListenerSettings()
    lmtp: LmtpListenerSettings = LmtpListenerSettings()
    # [[ingest.imap]]: mailboxes `serve` reads (docs/imap.md).
    imap: tuple[ImapMailboxSettings, ...] = ()

    @field_validator("imap", mode="after")
    @classmethod
    def _unique_mailbox_names(cls, value: tuple[ImapMailboxSettings, ...]) -> tuple[ImapMailboxSettings, ...]:
        names = [mailbox.name for mailbox in value]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"mailbox names must be unique; repeated: {', '.join(doubled)}")
        return value

    def imap_mailbox(self, name: str) -> ImapMailboxSettings | None:
        return next((mailbox for mailbox in self.imap if mailbox.name == name), None)


class OutboundSettings(Section):
    # "maildir:PATH" writes every outgoing mail into a maildir (nothing leaves
    # the machine); "smtp://HOST:PORT" hands it to a relay.
    transport: str = "maildir:./outbox"
    starttls: bool = False
    username: str = ""
    password: str = ""
    password_file: str = ""
    timeout_seconds: float = Field(default=30.0, gt=0)
    # Envelope sender of outgoing mail; empty means the desk address.
    envelope_from: str = ""
    max_attempts: int = Field(default=12, ge=1)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("transport")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        if value.startswith("maildir:") and len(value) > len("maildir:"):
            return value
        if re.match(r"^smtp://[^:/]+(:\d{1,5})?/?$", value):
            return value
        raise ValueError("expected 'maildir:PATH' or 'smtp://HOST:PORT'")

    @model_validator(mode="after")
    def _one_password_source(self) -> OutboundSettings:
        if self.password and self.password_file:
            raise ValueError("set password or password_file, not both")
        return self

    def resolved_password(self) -> str:
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        return self.password


class RepliesSettings(Section):
    acknowledge: bool = True
    # Limits on automatic mail to customers (acknowledgements, duplicate notices,
    # voicemail acknowledgements) per hour: per sender mailbox (bob+1@ and
    # Bob@ are one), per sender domain, and for the whole desk. Over a limit the
    # ticket is made and the mail is held (`postdesk outbox release`); 0 holds every one.
    max_acks_per_sender_per_hour: int = Field(default=5, ge=0)
    max_acks_per_domain_per_hour: int = Field(default=50, ge=0)
    max_acks_per_hour: int = Field(default=1000, ge=0)
    # How much of the customer's text the acknowledgement quotes.
    quote_chars: int = Field(default=600, ge=0)


class TemplatesSettings(Section):
    # A folder whose files override the built-in templates of the same name
    # (e.g. FOLDER/de/acknowledgement.txt).
    path: str = ""


class PipelineSettings(Section):
    # How often an idle worker looks for new mail stored by other processes.
    poll_seconds: float = Field(default=1.0, gt=0)
    # A message still processing after this long fails ("took longer than"), and the
    # worker goes on with the rest; 0 = no limit (docs/operations.md, "Poison mail").
    message_timeout_seconds: float = Field(default=60.0, ge=0)


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class MetricsSettings(Section):
    # host:port of `serve`'s Prometheus /metrics and /healthz; "" = off.
    # `postdesk serve --metrics HOST:PORT` overrides it.
    listen: str = ""
    # /healthz checks the store (a write, rolled back) at most once per this many
    # seconds and answers from that check in between; 0 = check at every probe.
    health_cache_seconds: float = Field(default=5.0, ge=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            parse_listen(value)
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9108" -> ("127.0.0.1", 9108); ValueError with what is expected."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected host:port such as 127.0.0.1:9108")
    return host.strip("[]"), int(port)


# A header name ("X-Asterisk-CallerID"); anything else in a voicemail source's
# caller/caller_name/duration list is a regular expression over the mail's text.
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def _check_region(value: str) -> str:
    import phonenumbers  # here, not at the top: its import is half of loading the settings

    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter region code such as DE, AT, CH or US")
    return region


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    return value


class VoicemailSourceSettings(Section):
    """A phone system whose voicemail mails are recognised (docs/voicemail.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    # Sender address patterns, * and ? as in file names, compared lower-cased.
    from_: tuple[str, ...] = Field(alias="from", min_length=1)
    # A regular expression the subject must contain; empty: any subject.
    subject: str = ""
    # Where the caller is: header names, or regular expressions with a
    # (?P<caller>…) group, searched in the subject, then the text. The first
    # that yields wins.
    caller: tuple[str, ...] = Field(min_length=1)
    # The caller's name, the same way with a (?P<name>…) group; a caller
    # written as '"Name" <number>' names itself.
    caller_name: tuple[str, ...] = ()
    # The recording's length when the audio does not tell: "M:SS", "H:MM:SS"
    # or seconds, from a header or a (?P<duration>…) group.
    duration: tuple[str, ...] = ()
    # A regular expression on the subject that marks an urgent message.
    urgent: str = ""
    # Region for numbers without a country code; empty: [voicemail] default_region.
    default_region: str = ""

    @field_validator("from_", "caller", "caller_name", "duration", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("subject", "urgent")
    @classmethod
    def _regex(cls, value: str) -> str:
        return _check_regex(value)

    @field_validator("caller")
    @classmethod
    def _caller_specs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_specs(value, "caller")

    @field_validator("caller_name")
    @classmethod
    def _name_specs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_specs(value, "name")

    @field_validator("duration")
    @classmethod
    def _duration_specs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_specs(value, "duration")

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _check_region(value) if value else ""


def _check_specs(specs: tuple[str, ...], group: str) -> tuple[str, ...]:
    for spec in specs:
        if HEADER_NAME.match(spec):
            continue
        _check_regex(spec)
        if group not in re.compile(spec).groupindex:
            raise ValueError(
                f"{spec!r}: expected a header name or a regular expression with a (?P<{group}>…) group"
            )
    return specs


class VoicemailSettings(Section):
    # Recognise voicemail mails from phone systems at all.
    enabled: bool = True
    # The built-in source for Asterisk's (and FreePBX's) default voicemail mail.
    builtin_asterisk: bool = True
    # Region for phone numbers written without a country code.
    default_region: str = "DE"
    # More phone systems; a source named "asterisk" replaces the built-in one.
    sources: tuple[VoicemailSourceSettings, ...] = ()
    # Learn customers' phone numbers from the signatures of their mails.
    learn_from_signatures: bool = True
    # Run with the recording's path ({file}, else appended); its output becomes the message text.
    transcribe_command: str = ""
    transcribe_timeout_seconds: float = Field(default=300.0, gt=0)

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _check_region(value)

    @field_validator("transcribe_command")
    @classmethod
    def _command(cls, value: str) -> str:
        try:
            shlex.split(value)
        except ValueError as error:
            raise ValueError(f"cannot split into a command and its arguments: {error}") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> VoicemailSettings:
        names = [source.name for source in self.sources]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"voicemail source names must be unique; repeated: {', '.join(doubled)}")
        return self


Priority = Literal["low", "normal", "high", "urgent"]
# Lowest first: triage only ever raises a priority along this order.
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA timezone such as 'Europe/Berlin' or 'UTC'") from None
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


class QueueSettings(Section):
    """One ``[[queues]]`` entry: a team's queue, the addresses that lead to it, its hours."""

    name: str
    addresses: tuple[str, ...] = ()
    # Business hours such as "Mo-Fr 08:00-18:00"; empty = around the clock.
    hours: str = ""
    # Empty: [triage] timezone.
    timezone: str = ""
    # False keeps mail to this queue's addresses here whatever the rules say
    # (a management address that must bypass the normal desk).
    rules_reroute: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError("expected a short name of letters, digits, '-', '_' or '.', such as 'billing'")
        return value

    @field_validator("addresses")
    @classmethod
    def _plain_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_address(address) for address in value)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_week(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value) if value else value

    def business_hours(self) -> BusinessHours:
        return BusinessHours.parse(self.hours, self.timezone or "UTC")


class RuleMatch(Section):
    """What a rule looks for; every condition given must hold."""

    # Phrases, case-insensitive, as whole words in the subject or the text; any one suffices...
    any_words: tuple[str, ...] = ()
    # ...or all of them must appear.
    all_words: tuple[str, ...] = ()
    subject_regex: str = ""
    text_regex: str = ""
    # Sender addresses, or "@domain" for a whole domain.
    senders: tuple[str, ...] = ()

    @field_validator("subject_regex", "text_regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _something(self) -> RuleMatch:
        if not (self.any_words or self.all_words or self.subject_regex or self.text_regex or self.senders):
            raise ValueError(
                "a rule needs at least one of any_words, all_words, subject_regex, text_regex, senders"
            )
        return self


class RuleEffect(Section):
    """What a matching rule sets on a new ticket."""

    priority: Priority | None = None
    queue: str | None = None
    level: int | None = Field(default=None, ge=1)
    feature_request: bool = False


class TriageRule(Section):
    name: str = Field(min_length=1, max_length=100)
    match: RuleMatch
    set: RuleEffect


class TriageSettings(Section):
    # The desk's timezone: queues without their own, and the days and hours of `postdesk stats`.
    timezone: str = "UTC"
    # Where mail goes that no address and no rule routes.
    default_queue: str = "support"
    # How many support levels there are (1st, 2nd, 3rd).
    levels: int = Field(default=3, ge=1, le=9)
    # Escalating a ticket past the top level moves it to this queue; empty: not possible.
    management_queue: str = ""
    # Mail from a VIP contact gets at least this priority.
    vip_priority: Priority = "high"
    # The desk's own urgency rules (outages, lock-outs, security, money at risk, "dringend"),
    # read after `rules`; a rule here with the same name replaces the built-in one.
    default_rules: bool = True
    rules: tuple[TriageRule, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value)


class FirstResponseSla(Section):
    """Time to the first answer per priority, counted in the queue's business hours."""

    urgent: str = "1h"
    high: str = "4h"
    normal: str = "24h"
    low: str = "72h"

    @field_validator("urgent", "high", "normal", "low")
    @classmethod
    def _duration(cls, value: str) -> str:
        return _check_duration(value)

    def due_after(self, priority: str) -> timedelta:
        return parse_duration(getattr(self, priority))


class SlaSettings(Section):
    first_response: FirstResponseSla = FirstResponseSla()
    # The acknowledgement's expected response time looks this far back...
    expected_window: str = "7d"
    # ...and says nothing with fewer tickets of the same queue and priority than this.
    expected_min_tickets: int = Field(default=5, ge=1)

    @field_validator("expected_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        return _check_duration(value)


class FeatureSettings(Section):
    # How alike (0-100) a request must read to an earlier one to count as the same request.
    similarity: int = Field(default=65, ge=1, le=100)


class RetentionSettings(Section):
    """``[retention]``: how long the desk keeps what it received (docs/privacy.md). 0 keeps it for ever."""

    # Closed tickets, with all their mail and files, this many days after closing.
    closed_tickets_days: int = Field(default=0, ge=0)
    # Received mail that never became a ticket message (failed, refused), after this many days.
    spool_days: int = Field(default=0, ge=0)
    # The raw bytes of received mail after this many days; the message, its text and files stay.
    raw_mail_days: int = Field(default=0, ge=0)

    @property
    def enabled(self) -> bool:
        return bool(self.closed_tickets_days or self.spool_days or self.raw_mail_days)


class FaqSettings(Section):
    """``[faq]``: FAQ suggestions in the acknowledgement of a new ticket (docs/faq.md)."""

    # The folder of Markdown entries (one file each, front matter first); relative to the working directory.
    path: str = "faq/"
    # False: acknowledgements never carry suggestions.
    suggest: bool = True
    # At most this many entries in an acknowledgement.
    max_suggestions: int = Field(default=3, ge=0, le=10)
    # An entry is suggested only when its BM25 score reaches this; tuned on
    # tests/data/faq (docs/faq.md). A wrong suggestion is worse than none.
    min_score: float = Field(default=4.5, ge=0)
    # ...and reaches this share of the best entry's score (drops weak runners-up).
    min_share_of_best: float = Field(default=0.9, ge=0, le=1)
    # How much of the entry's text the acknowledgement quotes.
    excerpt_chars: int = Field(default=160, ge=0)


class MachineMailSettings(Section):
    """``[machine_mail]``: where mail no person wrote goes (docs/machine-mail.md)."""

    # ARF abuse reports (feedback loops, spam complaints) open a ticket in this
    # queue, never in a customer queue and never on a customer's ticket.
    abuse_queue: str = "abuse"

    @field_validator("abuse_queue")
    @classmethod
    def _name(cls, value: str) -> str:
        return QueueSettings._name(value)


class AgentSettings(Section):
    """One ``[[agents]]`` entry (shared with agent mail): who works which queues at which level."""

    email: str
    name: str = ""
    # Empty: every queue.
    queues: tuple[str, ...] = ()
    level: int = Field(default=1, ge=1)

    @field_validator("email")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        return _check_address(value)


class AgentMailSettings(Section):
    """How mail from agents is trusted (docs/agents.md).

    Written as ``[agent_mail]``, or as ``[agents]`` when the agents
    themselves are listed as ``[[agents.members]]`` (TOML cannot have both
    a ``[agents]`` table and ``[[agents]]`` entries).
    """

    # Agent mail counts only with an Authentication-Results header from
    # trusted_authserv_id showing dkim=pass or spf=pass for the agent's domain.
    require_auth_results: bool = False
    # The authserv-id your border MTA writes into Authentication-Results.
    trusted_authserv_id: str = ""
    # Mail from an agent's address to the plain desk address opens a ticket;
    # false: the agent gets a short mail explaining how to reply instead.
    agents_may_open_tickets: bool = False
    # Notifications to one agent per minute; beyond that the new tickets come
    # in one digest mail (template agent_digest) once the minute is over.
    max_notifications_per_minute: int = Field(default=10, ge=0)
    # How-to-reply mails to one agent per hour (mail "from" an agent without
    # the agent's reply address is often forged: the how-to must not amplify it).
    max_howtos_per_hour: int = Field(default=1, ge=0)
    # The customer's files and voicemail recordings go along with a notification
    # up to this many bytes per mail; the rest are listed with their sizes, for
    # `#files` or `postdesk tickets attachment`. 0: none attached.
    attach_max_bytes: int = Field(default=10_000_000, ge=0)

    @model_validator(mode="after")
    def _trusted_id_given(self) -> AgentMailSettings:
        if self.require_auth_results and not self.trusted_authserv_id.strip():
            raise ValueError("require_auth_results = true needs trusted_authserv_id (your MX's authserv-id)")
        return self


RspamdAction = Literal["reject", "add header", "rewrite subject", "soft reject", "greylist"]


class SpamSettings(Section):
    """``[spam]``: which verdicts of the mail server in front silence the desk (docs/spam.md)."""

    enabled: bool = True
    # The authserv-id whose Authentication-Results count for DMARC/SPF/DKIM;
    # empty: [agent_mail] trusted_authserv_id. No trusted id: those results are not read.
    trusted_authserv_id: str = ""
    # Upstream "this is spam" headers are honoured: they can only make the desk
    # quieter, so a forged one harms only its sender.
    honour_spam_headers: bool = True
    # Which header styles are read: SpamAssassin (X-Spam-Flag, X-Spam-Status),
    # rspamd (X-Rspamd-Action, X-Spam-Score, X-Spamd-Result), a plain X-Spam: Yes.
    headers: tuple[Literal["spamassassin", "rspamd", "x-spam"], ...] = ("spamassassin", "rspamd", "x-spam")
    # X-Spam-Status: score=… at or above this is spam (even when it says No).
    spamassassin_threshold: float = Field(default=5.0, ge=0)
    # rspamd's X-Spam-Score / X-Spamd-Result score at or above this is spam.
    rspamd_threshold: float = Field(default=15.0, ge=0)
    # X-Rspamd-Action values that mean spam.
    rspamd_actions: tuple[RspamdAction, ...] = (
        "reject",
        "add header",
        "rewrite subject",
    )
    # dmarc=fail for the From domain from the trusted server: the From is forged.
    dmarc_fail: bool = True
    # spf=fail and dkim=fail together (either alone is too common in honest forwarded mail).
    spf_and_dkim_fail: bool = True
    # Spam tickets live here, out of every agent's queue.
    queue: str = "spam"
    # host:port of a SpamAssassin spamd to ask when no filter runs in front; empty: none.
    spamd: str = ""
    spamd_timeout_seconds: float = Field(default=10.0, gt=0)
    # Larger mail is not sent to spamd (spamc's own default limit is 500 KB).
    spamd_max_bytes: int = Field(default=512_000, gt=0)

    @field_validator("queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        return QueueSettings._name(value)

    @field_validator("spamd")
    @classmethod
    def _spamd_address(cls, value: str) -> str:
        if value:
            parse_listen(value)
        return value


# Keys of the `[agents]` table form; its agents are `[[agents.members]]`.
AGENTS_TABLE_MEMBERS = "members"


def agents_table_form(data: Any) -> Any:
    """Read ``[agents]`` + ``[[agents.members]]`` as ``[[agents]]`` + ``[agent_mail]``."""
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        return data
    if "agent_mail" in data:
        raise ValueError("agents: give the agent mail options in [agents] or in [agent_mail], not both")
    options = dict(data["agents"])
    members = options.pop(AGENTS_TABLE_MEMBERS, [])
    return {**data, "agents": members, "agent_mail": options}


def check_triage_references(settings: Settings) -> None:
    """Every queue that rules, agents and triage name must exist; names and addresses are unique."""
    configured = [queue.name for queue in settings.queues]
    if len(set(configured)) != len(configured):
        raise ValueError(f"[[queues]]: a queue name is used twice: {configured}")
    addresses = [address.lower() for queue in settings.queues for address in queue.addresses]
    if len(set(addresses)) != len(addresses):
        raise ValueError("[[queues]] addresses: an address leads to two queues")
    known = set(configured) or {settings.triage.default_queue}
    named = [("[triage] default_queue", settings.triage.default_queue)]
    if settings.triage.management_queue:
        named.append(("[triage] management_queue", settings.triage.management_queue))
    rule_names = [rule.name for rule in settings.triage.rules]
    if len(set(rule_names)) != len(rule_names):
        raise ValueError(f"[[triage.rules]]: a rule name is used twice: {rule_names}")
    named += [
        (f"[[triage.rules]] {r.name!r} set.queue", r.set.queue) for r in settings.triage.rules if r.set.queue
    ]
    named += [(f"[[agents]] {a.email} queues", q) for a in settings.agents for q in a.queues]
    for where, name in named:
        if name not in known:
            raise ValueError(f"{where}: no queue {name!r} (queues: {', '.join(sorted(known))})")
    for rule in settings.triage.rules:
        if rule.set.level is not None and rule.set.level > settings.triage.levels:
            raise ValueError(
                f"[[triage.rules]] {rule.name!r} set.level: there are only {settings.triage.levels} levels"
            )


# The rapidfuzz.fuzz scorers a dedupe rule may name (each returns 0-100).
DEDUPE_SCORERS = (
    "ratio",
    "partial_ratio",
    "token_sort_ratio",
    "token_set_ratio",
    "token_ratio",
    "partial_token_sort_ratio",
    "partial_token_set_ratio",
    "partial_token_ratio",
    "WRatio",
    "QRatio",
)
DEDUPE_FIELDS = ("subject", "body", "quoted")


class DedupeRule(Section):
    """One ``[[dedupe.rules]]`` entry (docs/dedupe.md): which earlier tickets a new mail is
    compared with, on what, how alike it must read, and what happens then."""

    name: str = Field(min_length=1, max_length=100)
    scope: Literal["same_sender", "anyone"] = "same_sender"
    window: str = "72h"
    fields: tuple[Literal["subject", "body", "quoted"], ...] = ("subject", "body")
    scorer: str = "token_set_ratio"
    threshold: float = Field(default=88, ge=0, le=100)
    action: Literal["merge", "cluster", "flag"] = "merge"
    # A mail naming an invoice/order/contract number the earlier one does not name is another concern.
    numbers_must_match: bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _check_duration(value)

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one of {', '.join(DEDUPE_FIELDS)}")
        return value

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, value: str) -> str:
        if value not in DEDUPE_SCORERS:
            raise ValueError(f"unknown rapidfuzz scorer; expected one of {', '.join(DEDUPE_SCORERS)}")
        return value

    @model_validator(mode="after")
    def _merge_is_per_sender(self) -> DedupeRule:
        if self.action == "merge" and self.scope != "same_sender":
            raise ValueError(
                "action 'merge' needs scope 'same_sender': a customer's mail is never "
                "added to someone else's ticket (use action 'cluster')"
            )
        return self

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window)


DEFAULT_DEDUPE_RULES = (
    DedupeRule(
        name="same-sender-repeat",
        scope="same_sender",
        window="72h",
        fields=("subject", "body"),
        scorer="token_set_ratio",
        # Measured on tests/data/dedupe (docs/dedupe.md): precision 1.000 at recall 0.943.
        threshold=70,
        action="merge",
    ),
    DedupeRule(
        name="incident-cluster",
        scope="anyone",
        window="24h",
        fields=("subject", "body"),
        scorer="token_set_ratio",
        # Measured on tests/data/dedupe: precision 0.960 at recall 0.558 across customers.
        threshold=75,
        action="cluster",
    ),
)


class DedupeSettings(Section):
    enabled: bool = True
    # Tried in order; the first rule whose best candidate reaches its threshold decides.
    rules: tuple[DedupeRule, ...] = DEFAULT_DEDUPE_RULES

    @field_validator("rules", mode="before")
    @classmethod
    def _each_rule(cls, value: Any) -> Any:
        """Validate rule by rule, so an error names the rule and the key."""
        if not isinstance(value, list | tuple):
            return value
        rules, names = [], set()
        for number, raw in enumerate(value, 1):
            name = raw.get("name") if isinstance(raw, dict) else None
            label = f"rule {name!r}" if name else f"rule #{number}"
            if isinstance(raw, DedupeRule):
                rule = raw
            else:
                try:
                    rule = DedupeRule.model_validate(raw)
                except ValidationError as error:
                    problem = error.errors()[0]
                    key = ".".join(str(part) for part in problem["loc"]) or "(rule)"
                    message = problem["msg"].removeprefix("Value error, ")
                    if problem["type"] == "extra_forbidden":
                        message = "unknown key"
                    elif problem["type"] != "missing":
                        message += f" (got {problem['input']!r})"
                    raise ValueError(f"{label}: {key}: {message}") from None
            if rule.name in names:
                raise ValueError(f"{label}: name: used by another rule")
            names.add(rule.name)
            rules.append(rule)
        return tuple(rules)


class Settings(Section):
    store: StoreSettings = StoreSettings()
    desk: DeskSettings = DeskSettings()
    ingest: IngestSettings = IngestSettings()
    outbound: OutboundSettings = OutboundSettings()
    replies: RepliesSettings = RepliesSettings()
    templates: TemplatesSettings = TemplatesSettings()
    pipeline: PipelineSettings = PipelineSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    voicemail: VoicemailSettings = VoicemailSettings()
    queues: tuple[QueueSettings, ...] = ()
    triage: TriageSettings = TriageSettings()
    sla: SlaSettings = SlaSettings()
    features: FeatureSettings = FeatureSettings()
    agents: tuple[AgentSettings, ...] = ()
    faq: FaqSettings = FaqSettings()
    machine_mail: MachineMailSettings = MachineMailSettings()
    agent_mail: AgentMailSettings = AgentMailSettings()
    dedupe: DedupeSettings = DedupeSettings()
    spam: SpamSettings = SpamSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="before")
    @classmethod
    def _agents_as_table(cls, data: Any) -> Any:
        return agents_table_form(data)

    @model_validator(mode="after")
    def _triage_names_exist(self) -> Settings:
        check_triage_references(self)
        return self

    @model_validator(mode="after")
    def _spamd_within_message_timeout(self) -> Settings:
        # Past the message timeout a mail fails as poison: a slow spamd must cost only its verdict.
        limit = self.pipeline.message_timeout_seconds
        if self.spam.spamd and limit and self.spam.spamd_timeout_seconds >= limit:
            raise ValueError(
                f"[spam] spamd_timeout_seconds: must be below [pipeline] message_timeout_seconds ({limit:g})"
            )
        return self

    @property
    def own_addresses(self) -> frozenset[str]:
        """Every address the desk answers from; mail from these is our own."""
        queue_addresses = (address.lower() for queue in self.queues for address in queue.addresses)
        return frozenset({self.desk.address.lower(), *queue_addresses})

    @property
    def spam_authserv_id(self) -> str:
        """The authserv-id whose Authentication-Results the spam verdict reads ('' for none)."""
        return self.spam.trusted_authserv_id.strip() or self.agent_mail.trusted_authserv_id.strip()

    @property
    def own_recipients(self) -> OwnRecipients:
        """The envelope recipients the listeners accept (docs/postfix.md, "Recipients")."""
        return own_recipients(self.own_addresses, self.desk.aliases)

    def queue(self, name: str) -> QueueSettings:
        """The queue called NAME; an unconfigured one is open around the clock in the desk's timezone."""
        found = next((queue for queue in self.queues if queue.name == name), None)
        if found is None:
            return QueueSettings(name=name, timezone=self.triage.timezone)
        return found.model_copy(update={"timezone": found.timezone or self.triage.timezone})
