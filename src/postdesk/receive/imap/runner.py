"""`serve`'s IMAP side: one thread per [[ingest.imap]] mailbox, each on its own.

A thread connects, reads what waits (`imap.Reader.sync`), then waits for
more: IDLE where the server has it (renewed at least every
IDLE_RENEW_SECONDS, below the 30 minutes after which RFC 3501 servers may
end an idle client), else polling every `poll_seconds`. Any failure ends
the connection and logs one line; the thread connects again after a
growing pause (1 s, 2 s, 4 s … at most BACKOFF_MAX_SECONDS). A broken
mailbox (wrong password, missing folder) keeps retrying that way and never
disturbs the others.

A watchdog (`Mailboxes.watch`, called by serve's supervision loop) drops
the connection of a thread that showed no sign of life for
WATCHDOG_SECONDS, so even a hang no timeout catches ends in a reconnect,
and starts a thread again should one ever end.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from postdesk.config.model import ImapMailboxSettings
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.receive.imap.client import Capabilities, ImapProblem, close, connect, describe
from postdesk.receive.imap.mailbox import Reader
from postdesk.receive.spool import StoreUnavailable
from postdesk.store.session import Store

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 24 * 60
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
WATCHDOG_SECONDS = 600.0
# How often a waiting thread looks up from IDLE (to stop, or to beat).
TICK_SECONDS = 1.0

_EXPECTED = (ImapProblem, IMAPClientError, OSError, EOFError, StoreUnavailable)


@dataclass
class MailboxThread:
    """The thread that reads one mailbox, and what the watchdog needs to see of it."""

    mailbox: ImapMailboxSettings
    store: Store
    on_stored: Callable[[], None]
    stopping: threading.Event
    metrics: Metrics = field(default_factory=NoMetrics)
    backoff_max: float = BACKOFF_MAX_SECONDS
    last_beat: float = field(default_factory=time.monotonic)
    client: IMAPClient | None = None
    thread: threading.Thread | None = None
    _traced: bool = False

    def __post_init__(self) -> None:
        self.reader = Reader(
            self.mailbox,
            self.store,
            on_stored=self.on_stored,
            heartbeat=self.beat,
            stopping=self.stopping.is_set,
            metrics=self.metrics,
        )

    @property
    def name(self) -> str:
        return self.mailbox.name

    def start(self) -> None:
        self.last_beat = time.monotonic()
        self.thread = threading.Thread(target=self.run, name=f"imap-{self.name}", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def drop_connection(self) -> None:
        """Cut the socket from outside; the thread's blocked call fails and it reconnects."""
        client = self.client
        if client is None:
            return
        with contextlib.suppress(OSError):
            client.socket().shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        failures = 0
        mailbox = self.mailbox
        while not self.stopping.is_set():
            client = None
            try:
                client = connect(mailbox)
                self.client = client
                caps = Capabilities.of(client)
                self.reader.prepare(client, caps)
                how = "IDLE" if caps.idle else f"polling every {mailbox.poll_seconds:g} s"
                if failures:
                    log.info(
                        "imap %s: connected again after %d failed attempt(s); %s", self.name, failures, how
                    )
                else:
                    log.info(
                        "imap %s: connected to %s:%d, folder %r; %s",
                        self.name,
                        mailbox.host,
                        mailbox.effective_port,
                        mailbox.folder,
                        how,
                    )
                failures = 0
                first = True
                while not self.stopping.is_set():
                    self.reader.sync(client, caps, finish_pending=first)
                    first = False
                    self.beat()
                    self._wait(client, caps)
            except Exception as error:
                failures += 1
                delay = min(BACKOFF_FIRST_SECONDS * 2 ** (failures - 1), self.backoff_max)
                self._report(error, delay)
                self._pause(delay)
            finally:
                self.client = None
                if client is not None:
                    close(client)
        log.info("imap %s: stopped", self.name)

    def _report(self, error: Exception, delay: float) -> None:
        if isinstance(error, StoreUnavailable):
            reason = f"mail not stored, it stays on the server: {error}"
        else:
            reason = describe(error)
        # A bug (not a server or network failure) shows its traceback once, not in a loop.
        trace = not isinstance(error, _EXPECTED) and not self._traced
        self._traced = self._traced or trace
        log.warning("imap %s: %s; trying again in %g s", self.name, reason, delay, exc_info=trace)

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            self.beat()
            self.stopping.wait(min(TICK_SECONDS, max(0.0, deadline - time.monotonic())))
        self.beat()

    def _wait(self, client: IMAPClient, caps: Capabilities) -> None:
        """Until new mail is announced, or poll_seconds pass (IDLE: at most IDLE_RENEW_SECONDS)."""
        span = min(self.mailbox.poll_seconds, IDLE_RENEW_SECONDS)
        if not caps.idle:
            self._pause(span)
            return
        deadline = time.monotonic() + span
        client.idle()
        quick_empty = 0
        while not self.stopping.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            responses = client.idle_check(timeout=TICK_SECONDS)
            self.beat()
            if any(_is(response, b"BYE") for response in responses):
                raise ImapProblem("the server ended the connection (BYE)")
            if any(_is(response, b"EXISTS") or _is(response, b"RECENT") for response in responses):
                break
            # A closed socket reads as "ready, but nothing there" at once, every time.
            if not responses and time.monotonic() - began < TICK_SECONDS / 2:
                quick_empty += 1
                if quick_empty >= 3:
                    raise ImapProblem("the server closed the connection")
            else:
                quick_empty = 0
        client.idle_done()


def _is(response: tuple[object, ...], word: bytes) -> bool:
    return any(isinstance(part, bytes) and part.upper() == word for part in response[:2])


@dataclass
class Mailboxes:
    """Every mailbox thread of one `serve`; the supervision loop calls `watch`."""

    threads: list[MailboxThread]
    stopping: threading.Event
    watchdog_seconds: float = WATCHDOG_SECONDS

    def watch(self) -> None:
        now = time.monotonic()
        for mailbox in self.threads:
            if not mailbox.alive() and not self.stopping.is_set():
                log.error("imap %s: its thread ended; starting it again", mailbox.name)
                mailbox.start()
            elif now - mailbox.last_beat > self.watchdog_seconds:
                log.warning(
                    "imap %s: no sign of life for %.0f s; dropping the connection",
                    mailbox.name,
                    now - mailbox.last_beat,
                )
                mailbox.beat()
                mailbox.drop_connection()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for mailbox in self.threads:
            if mailbox.thread is not None:
                mailbox.thread.join(timeout)


def start_mailboxes(
    mailboxes: Sequence[ImapMailboxSettings],
    store: Store,
    on_stored: Callable[[], None],
    metrics: Metrics | None = None,
) -> Mailboxes:
    """Start one reading thread per configured mailbox (none configured: none started)."""
    stopping = threading.Event()
    threads: list[MailboxThread] = []
    for settings in mailboxes:
        thread = MailboxThread(settings, store, on_stored, stopping, metrics or NoMetrics())
        threads.append(thread)
        thread.start()
    return Mailboxes(threads, stopping)
