"""The settings model. Every key has a default, so no config file is needed.

The TOML section and key names are a public contract (README, "Configuration").
Models are frozen: settings are read once and passed in, never changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError("expected a plain mail address such as support@example.com")
    return value


class StoreSettings(Section):
    url: str = "sqlite:///postdesk.db"
    # `serve` brings the schema up to date itself; set false where several
    # hosts share one database and `postdesk db upgrade` is run by hand.
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(
                "expected an SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
            )
        return value


class DeskSettings(Section):
    address: str = "support@example.com"
    name: str = "Example Support"
    language: Literal["de", "en"] = "de"
    # HMAC key for reply tokens. Empty: a random key is generated once and
    # kept in the database, so tokens stay valid across restarts.
    secret: str = ""
    # The subject tag is "[<ticket_tag><number>]", e.g. "[Ticket#10001]".
    ticket_tag: str = "Ticket#"

    @field_validator("address")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        return _check_address(value)

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
    max_message_bytes: int = Field(default=26_214_400, gt=0)


class LmtpListenerSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=2424, ge=0, le=65535)
    max_message_bytes: int = Field(default=26_214_400, gt=0)


class IngestSettings(Section):
    smtp: SmtpListenerSettings = SmtpListenerSettings()
    lmtp: LmtpListenerSettings = LmtpListenerSettings()


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
    # Loop guard: at most this many acknowledgements per sender per hour.
    max_acks_per_sender_per_hour: int = Field(default=5, ge=0)
    # How much of the customer's text the acknowledgement quotes.
    quote_chars: int = Field(default=600, ge=0)


class TemplatesSettings(Section):
    # A folder whose files override the built-in templates of the same name
    # (e.g. FOLDER/de/acknowledgement.txt).
    path: str = ""


class PipelineSettings(Section):
    # How often an idle worker looks for new mail stored by other processes.
    poll_seconds: float = Field(default=1.0, gt=0)


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class Settings(Section):
    store: StoreSettings = StoreSettings()
    desk: DeskSettings = DeskSettings()
    ingest: IngestSettings = IngestSettings()
    outbound: OutboundSettings = OutboundSettings()
    replies: RepliesSettings = RepliesSettings()
    templates: TemplatesSettings = TemplatesSettings()
    pipeline: PipelineSettings = PipelineSettings()
    log: LogSettings = LogSettings()

    @property
    def own_addresses(self) -> frozenset[str]:
        """Every address the desk answers from; mail from these is our own."""
        return frozenset({self.desk.address.lower()})
