"""SMTP and LMTP listeners (aiosmtpd): say 250 only once the message is committed.

The handler does nothing but hand the message to the spool writer and wait
for its commit, so the event loop never blocks on the database. Any failure
to store answers 451 (the sender keeps the mail and retries), never a 5xx:
an unhandled exception would turn into a permanent bounce.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.receive.spool import Received, SpoolWriter

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Message not stored, please try again later"


class SpoolHandler:
    """aiosmtpd handler: DATA goes to the spool writer; the reply waits for its commit."""

    def __init__(
        self, writer: SpoolWriter, via: str, *, lmtp: bool = False, metrics: Metrics | None = None
    ) -> None:
        self._writer = writer
        self.via = via
        self._lmtp = lmtp
        self.metrics: Metrics = metrics or NoMetrics()
        # Open sessions, so that shutdown can wait for them (serve.py).
        self.sessions: set[SMTP] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = Received(
            raw=bytes(envelope.original_content or b""),
            via=self.via,
            envelope_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
        )
        try:
            inbound_id = await asyncio.wrap_future(self._writer.submit(message))
        except Exception as error:
            log.warning("refused with 451 (%s): %s", self.via, error)
            self.metrics.received(self.via, "tempfail")
            return self._per_recipient(TEMPFAIL, envelope)
        self.metrics.received(self.via, "stored")
        return self._per_recipient(f"250 2.0.0 Ok: queued as {inbound_id}", envelope)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("%s session error", self.via)
        self.metrics.received(self.via, "error")
        return "451 4.3.0 Internal error, please try again later"

    def _per_recipient(self, reply: str, envelope: Envelope) -> str:
        # LMTP answers DATA once per accepted recipient (RFC 2033 section 4.2).
        if self._lmtp:
            return "\r\n".join([reply] * max(1, len(envelope.rcpt_tos)))
        return reply


class _DeskSession(SMTP):
    # RFC 5321 caps lines at 1000 octets, but real mail breaks that; losing a
    # customer's mail over it helps nobody, so accept long lines.
    line_length_limit = 1 << 20
    event_handler: SpoolHandler

    def connection_made(self, transport: Any) -> None:
        self.event_handler.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.event_handler.sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        # aiosmtpd answers an oversized message itself; count it on the way out.
        if status[:4] in ("552 ", b"552 "):
            self.event_handler.metrics.received(self.event_handler.via, "too_large")
        await super().push(status)


class DeskSMTP(_DeskSession):
    pass


class DeskLMTP(_DeskSession, LMTP):
    pass


async def start_listener(
    handler: SpoolHandler,
    host: str,
    port: int,
    max_message_bytes: int,
    *,
    lmtp: bool = False,
) -> asyncio.Server:
    """Listen on HOST:PORT in the running loop; returns the server (port 0 picks one)."""
    protocol = DeskLMTP if lmtp else DeskSMTP
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return protocol(
            handler,
            data_size_limit=max_message_bytes,
            enable_SMTPUTF8=True,
            hostname="postdesk",
            ident="postdesk",
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port)
