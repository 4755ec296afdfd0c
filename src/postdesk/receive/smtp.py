"""SMTP and LMTP listeners (aiosmtpd): say 250 only once the message is committed.

The handler does nothing but hand the message to the spool writer and wait
for its commit, so the event loop never blocks on the database. Any failure
to store answers 451 (the sender keeps the mail and retries), never a 5xx:
an unhandled exception would turn into a permanent bounce.

Four limits keep a public listener honest (docs/postfix.md, docs/operations.md):
- recipients: only the desk's own addresses (`core.recipients`); any other
  gets `550 5.1.1` at RCPT, so nothing is stored for it;
- sessions: over `max_sessions` open connections, a new one gets `421` at connect;
- content: input that is no mail at all (`parse.is_mail`) gets `550 5.6.0`
  after DATA and is not stored;
- memory: DATA moves to a temporary file as it arrives once it is past
  `SPOOL_IN_MEMORY_BYTES`, and lines of any length up to the message limit
  are taken piece by piece, never refused with aiosmtpd's `500 Line too long`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import IO, Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from postdesk.core.recipients import OwnRecipients, is_ours
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.parse.is_mail import SNIFF_BYTES, not_a_mail
from postdesk.receive.spool import Received, Spooled, SpoolWriter

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Message not stored, please try again later"
UNKNOWN_RECIPIENT = "550 5.1.1 mailbox unknown"
BUSY = b"421 4.7.0 too busy, try later\r\n"
TOO_LARGE = "552 5.3.4 Error: Too much mail data"
# Followed by the reason: 5.6.0 "other or undefined media error" (RFC 3463), a
# permanent refusal of the content itself, so the sending server bounces it.
NOT_A_MAIL = "550 5.6.0"
# A message up to this size stays in memory while it arrives; a larger one
# goes on to a temporary file (20 sessions of 20 MB held ~1 GB in memory
# before; docs/benchmarks.md, "Concurrent large messages").
SPOOL_IN_MEMORY_BYTES = 1 << 20
# The stream reader's buffer limit. A longer line is not refused: DATA reads
# it in pieces of this size (see `_DeskSession._receive`).
READ_LIMIT = 64 << 10


class SpoolHandler:
    """aiosmtpd handler: DATA goes to the spool writer; the reply waits for its commit."""

    def __init__(
        self,
        writer: SpoolWriter,
        via: str,
        own: OwnRecipients,
        *,
        lmtp: bool = False,
        max_sessions: int = 100,
        metrics: Metrics | None = None,
    ) -> None:
        self._writer = writer
        self.via = via
        self.own = own
        self._lmtp = lmtp
        self.max_sessions = max_sessions
        self.metrics: Metrics = metrics or NoMetrics()
        # Open sessions, so that shutdown can wait for them (serve.py) and max_sessions holds.
        self.sessions: set[SMTP] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        # LMTP answers RCPT per recipient as SMTP does; DATA then answers only
        # for the recipients accepted here.
        if not is_ours(address, self.own):
            self.metrics.received(self.via, "unknown_recipient")
            return UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def store(self, envelope: Envelope, content: bytes | IO[bytes], size: int) -> str:
        """Hand the message (its bytes, or a file the spool writer then owns) on; the reply to DATA."""
        sender, recipients = envelope.mail_from or "", tuple(envelope.rcpt_tos)
        message = (
            Received(content, self.via, sender, recipients)
            if isinstance(content, bytes)
            else Spooled(content, size, self.via, sender, recipients)
        )
        try:
            inbound_id = await asyncio.wrap_future(self._writer.submit(message))
        except Exception as error:
            log.warning("refused with 451 (%s): %s", self.via, error)
            self.metrics.received(self.via, "tempfail")
            return self.per_recipient(TEMPFAIL, envelope)
        self.metrics.received(self.via, "stored")
        return self.per_recipient(f"250 2.0.0 Ok: queued as {inbound_id}", envelope)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("%s session error", self.via)
        self.metrics.received(self.via, "error")
        return "451 4.3.0 Internal error, please try again later"

    def per_recipient(self, reply: str, envelope: Envelope) -> str:
        # LMTP answers DATA once per accepted recipient (RFC 2033 section 4.2).
        if self._lmtp:
            return "\r\n".join([reply] * max(1, len(envelope.rcpt_tos)))
        return reply


class _DeskSession(SMTP):
    # The stream reader's limit (aiosmtpd sizes its buffer by it); DATA lines
    # may be longer, see `_receive`.
    line_length_limit = READ_LIMIT
    event_handler: SpoolHandler
    _busy = False

    def connection_made(self, transport: Any) -> None:
        handler = self.event_handler
        if len(handler.sessions) >= handler.max_sessions:
            # Answered before aiosmtpd sees the connection: no greeting, no session.
            self._busy = True
            handler.metrics.received(handler.via, "busy")
            transport.write(BUSY)
            transport.close()
            return
        handler.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._busy:
            return
        self.event_handler.sessions.discard(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if not self._busy:
            super().eof_received()  # cancels the session's task
        # Close our side too (aiosmtpd keeps it half-open): a client that hangs
        # up before the greeting would otherwise hold a session slot until the
        # 300 s timeout, and a few hundred such connects would lock everyone out.
        return False

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's own DATA gathers every message as a list of lines in memory
        # and refuses a line over line_length_limit; this one moves a large
        # message to a temporary file as it comes, whatever its lines' lengths.
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        received = await self._receive()
        if received is None:  # the connection ended before the final dot
            return
        size, content = received
        refusal = None
        if self.data_size_limit and size > self.data_size_limit:
            refusal = TOO_LARGE
        elif (why := not_a_mail(_head(content))) is not None:
            refusal = f"{NOT_A_MAIL} {why}"
            self.event_handler.metrics.received(self.event_handler.via, "not_a_mail")
        if refusal is not None:
            if not isinstance(content, bytes):
                content.close()
            reply = self.event_handler.per_recipient(refusal, self.envelope)
        else:
            reply = await self.event_handler.store(self.envelope, content, size)
        self._set_post_data_state()
        await self.push(reply)

    async def _receive(self) -> tuple[int, bytes | IO[bytes]] | None:
        """Read DATA up to the lone dot, undoing dot-stuffing (RFC 5321 4.5.2).

        Returns the size and the message: its bytes, or past
        SPOOL_IN_MEMORY_BYTES a temporary file holding them (the spool
        writer's to close). Past `data_size_limit` the rest is read and
        counted but not kept (the answer comes after the dot, RFC 5321
        4.2.5). None when the connection ends before the dot."""
        keep_up_to = self.data_size_limit or 0
        size = 0
        pieces: list[bytes] = []
        file: IO[bytes] | None = None
        line_start = True
        try:
            while self.transport is not None:
                try:
                    piece = await self._reader.readuntil(b"\r\n")
                except asyncio.LimitOverrunError as error:
                    # A line longer than the reader's limit: take what is there
                    # (asyncio leaves a trailing CR in the buffer, so CRLF is never split).
                    piece = await self._reader.read(error.consumed)
                except asyncio.CancelledError:
                    self._writer.close()
                    raise
                if line_start:
                    if piece == b".\r\n":
                        return size, file if file is not None else b"".join(pieces)
                    if piece[:1] == b".":
                        piece = piece[1:]
                line_start = piece[-2:] == b"\r\n"
                size += len(piece)
                if keep_up_to and size > keep_up_to:
                    continue
                if file is not None:
                    file.write(piece)
                    continue
                pieces.append(piece)
                if size > SPOOL_IN_MEMORY_BYTES:
                    # Not a context manager: the file lives on in the spool writer, which closes it.
                    file = tempfile.TemporaryFile(prefix="postdesk-data-")  # noqa: SIM115
                    file.writelines(pieces)
                    pieces = []
        except BaseException:
            if file is not None:
                file.close()
            raise
        if file is not None:
            file.close()
        return None

    async def push(self, status: Any) -> None:
        # aiosmtpd answers an oversized message itself; count it on the way out.
        if status[:4] in ("552 ", b"552 "):
            self.event_handler.metrics.received(self.event_handler.via, "too_large")
        await super().push(status)


def _head(content: bytes | IO[bytes]) -> bytes:
    """What `not_a_mail` reads of a message: all of it in memory, the start of a spooled one."""
    if isinstance(content, bytes):
        return content
    content.seek(0)
    head = content.read(SNIFF_BYTES + 1)  # one more byte: the message goes on past what is read
    content.seek(0)
    return head


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
