"""`postdesk serve`: listeners, a pipeline worker and a sender, supervised.

The listeners run on this process's asyncio loop with the spool writer
thread beside them, and one thread per [[ingest.imap]] mailbox
(ingest/imap_runner.py). The pipeline worker and the sender run in child
processes: parsing mail is CPU work, and in the same process it would hold
the interpreter lock the listeners need to answer SMTP sessions (measured:
with the worker as a thread, ingest fell to a tenth; docs/benchmarks.md).

The spool writer wakes the worker after each commit and the worker wakes
the sender (multiprocessing events), so a mail is usually processed and
answered within milliseconds; polling covers mail stored by other hosts.
A child that dies is restarted; children end when this process ends, even
by SIGKILL. On SIGTERM/SIGINT the listeners stop accepting, open sessions
get `SHUTDOWN_GRACE_SECONDS` to finish (then they are closed: a message not
yet answered 250 is retried by its sender), what was received is
committed, the worker finishes its message, and all exit.

With `--metrics HOST:PORT` ([metrics] listen) the parent serves Prometheus
metrics and /healthz (postdesk.ops.exporter); the children send what they
measure over a queue to it (postdesk.ops.metrics).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any

from postdesk.config.model import Settings, parse_listen
from postdesk.ops.metrics import Metrics, NoMetrics, QueueMetrics, forward
from postdesk.receive.imap.runner import start_mailboxes
from postdesk.receive.smtp import SpoolHandler, start_listener
from postdesk.receive.spool import SpoolWriter
from postdesk.runtime.desk import Desk, open_desk
from postdesk.runtime.logs import configure_logging
from postdesk.voicemail.transcribe import transcriber_for

if TYPE_CHECKING:
    from postdesk.ops.exporter import MetricsServer

log = logging.getLogger(__name__)

SPAWN = multiprocessing.get_context("spawn")
RESTART_DELAY_SECONDS = 2.0
# How long a child whose parent died may take to finish the step in hand
# before it is ended; a step blocked in the database would otherwise keep
# an orphan alive, and an orphaned sender could send while a new desk runs.
ORPHAN_GRACE_SECONDS = 5.0
PARENT_CHECK_SECONDS = 0.5
EXIT_ORPHANED = 75  # EX_TEMPFAIL: nothing is lost, the work is done again by the next desk
# How long open SMTP/LMTP sessions may go on after SIGTERM (systemd waits 90 s by default).
SHUTDOWN_GRACE_SECONDS = 10.0
# How often the sender looks whether the daily [retention] job is due.
RETENTION_LOOK_EVERY = timedelta(hours=1)


class ListenError(Exception):
    """A listening address could not be bound (in use, not local, no permission)."""


def serve(
    desk: Desk,
    *,
    process: bool = True,
    send: bool = True,
    log_format: str | None = None,
    metrics_listen: str | None = None,
) -> None:
    listen = desk.settings.metrics.listen if metrics_listen is None else metrics_listen
    asyncio.run(_serve(desk, process, send, log_format or desk.settings.log.format, listen))


@dataclass
class Child:
    """A supervised worker process and the events that drive it."""

    role: str
    settings: Settings
    log_format: str
    wake: Event
    wakes_next: Event | None
    stopping: Event
    metrics_queue: Queue[Any] | None = None
    process: SpawnProcess | None = field(default=None)

    def start(self) -> None:
        self.process = SPAWN.Process(
            target=_child_main,
            args=(
                self.role,
                self.settings,
                self.log_format,
                self.wake,
                self.wakes_next,
                self.stopping,
                os.getpid(),
                self.metrics_queue,
            ),
            name=f"postdesk-{self.role}",
            daemon=True,
        )
        self.process.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


async def _serve(desk: Desk, process: bool, send: bool, log_format: str, metrics_listen: str) -> None:
    settings = desk.settings
    exporter = _start_exporter(desk, metrics_listen) if metrics_listen else None
    metrics: Metrics = exporter.metrics if exporter else NoMetrics()
    events = exporter.events if exporter else None
    stopping = SPAWN.Event()
    send_wake, work_wake = SPAWN.Event(), SPAWN.Event()
    children = []
    if send:
        children.append(Child("sender", settings, log_format, send_wake, None, stopping, events))
    if process:
        children.append(Child("pipeline", settings, log_format, work_wake, send_wake, stopping, events))
    for child in children:
        child.start()

    writer = SpoolWriter(desk.store, on_stored=work_wake.set)
    writer.start()
    mailboxes = start_mailboxes(settings.ingest.imap, desk.store, on_stored=work_wake.set, metrics=metrics)
    servers = []
    handlers = []
    own = settings.own_recipients
    for name, listener in (("smtp", settings.ingest.smtp), ("lmtp", settings.ingest.lmtp)):
        if listener.enabled:
            handler = SpoolHandler(
                writer, name, own, lmtp=name == "lmtp", max_sessions=listener.max_sessions, metrics=metrics
            )
            handlers.append(handler)
            try:
                server = await start_listener(
                    handler, listener.host, listener.port, listener.max_message_bytes, lmtp=name == "lmtp"
                )
            except OSError as error:
                raise ListenError(
                    f"cannot listen for {name.upper()} on {listener.host}:{listener.port}: {error}"
                ) from None
            servers.append(server)
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                log.info("%s listener on %s:%d", name.upper(), host, port)
    log.info("postdesk is running: store %s, outbound %s", _safe_url(desk), settings.outbound.transport)

    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown.set)
    while not shutdown.is_set():
        try:
            await asyncio.wait_for(shutdown.wait(), timeout=RESTART_DELAY_SECONDS)
        except TimeoutError:
            _restart_dead(children)
            mailboxes.watch()

    log.info("shutting down: no new connections, finishing what was received")
    for server in servers:
        server.close()
    await _end_sessions(handlers, SHUTDOWN_GRACE_SECONDS)
    for server in servers:
        await server.wait_closed()
    await asyncio.to_thread(mailboxes.stop)
    await asyncio.to_thread(writer.stop)
    stopping.set()
    for child in children:
        child.wake.set()
    for child in children:
        if child.process is not None:
            await asyncio.to_thread(child.process.join, 60)
            if child.process.is_alive():
                log.warning("%s did not stop in time; terminating it", child.role)
                child.process.terminate()
    if exporter is not None:
        await asyncio.to_thread(exporter.stop)
    desk.store.dispose()
    log.info("stopped")


async def _end_sessions(handlers: list[SpoolHandler], grace: float) -> None:
    """Let open sessions finish for GRACE seconds, then close the rest.

    A session closed while its message is being committed loses only the
    250: its sender retries and the pipeline skips the repeated delivery.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while any(handler.sessions for handler in handlers) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    left = [session for handler in handlers for session in handler.sessions]
    if left:
        log.warning("closing %d session(s) still open after %.0fs", len(left), grace)
        for session in left:
            if session.transport is not None:
                session.transport.close()
        await asyncio.sleep(0)


@dataclass
class _Exporter:
    """The metrics endpoint and the thread that applies the children's reports."""

    metrics: Metrics
    events: Queue[Any]
    forwarder: threading.Thread
    server: MetricsServer

    def stop(self) -> None:
        self.events.put(None)
        self.forwarder.join()
        self.server.stop()


def _start_exporter(desk: Desk, listen: str) -> _Exporter:
    # Imported here: prometheus-client is needed only where metrics are served.
    from postdesk.ops.exporter import cached, health_probe, prometheus_metrics, start_metrics_server

    recorder = prometheus_metrics(desk.store)
    host, port = parse_listen(listen)
    probe = cached(health_probe(desk.settings.store.url), desk.settings.metrics.health_cache_seconds)
    try:
        server = start_metrics_server(host, port, recorder.registry, probe)
    except OSError as error:
        raise ListenError(f"cannot listen for metrics on {listen}: {error}") from None
    events: Queue[Any] = SPAWN.Queue()
    forwarder = threading.Thread(target=forward, args=(events, recorder), name="metrics-forward", daemon=True)
    forwarder.start()
    bound_host, bound_port = server.address
    log.info("metrics on http://%s:%d/metrics, health check on /healthz", bound_host, bound_port)
    return _Exporter(recorder, events, forwarder, server)


def _restart_dead(children: list[Child]) -> None:
    for child in children:
        if not child.alive():
            code = child.process.exitcode if child.process else None
            log.error("%s process ended (exit code %s); starting it again", child.role, code)
            child.start()


def _child_main(
    role: str,
    settings: Settings,
    log_format: str,
    wake: Event,
    wakes_next: Event | None,
    stopping: Event,
    parent_pid: int,
    metrics_queue: Queue[Any] | None = None,
) -> None:
    """Entry point of a worker process: run its loop until stopped or orphaned."""
    configure_logging(settings.log.level, log_format)
    _die_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides when children stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    threading.Thread(
        target=_watch_parent,
        args=(role, parent_pid, ORPHAN_GRACE_SECONDS),
        name="parent-watch",
        daemon=True,
    ).start()
    # What the pipeline and the sender write can be derived again from the
    # durable spool, so they need not wait for fsync (docs/architecture.md).
    desk = open_desk(settings, synchronous="NORMAL")
    metrics: Metrics = NoMetrics()
    if metrics_queue is not None:
        # Reports are best effort: never keep this process alive to flush them.
        metrics_queue.cancel_join_thread()
        metrics = QueueMetrics(metrics_queue)

    def done() -> bool:
        return stopping.is_set() or os.getppid() != parent_pid

    _run_loop(role, _steps(role, desk, wakes_next, stopping, done, metrics), wake, done, settings)
    desk.store.dispose()


def _watch_parent(role: str, parent_pid: int, grace: float) -> None:
    """End this process GRACE seconds after its parent died, whatever it is doing.

    The loop stops by itself at the next step; this is for a step that
    never returns (blocked on a lock, or on a database that went away).
    The database drivers wait with the interpreter lock released, so this
    thread runs while the main thread is blocked. (Not SIGALRM: the
    pipeline's per-message time limit owns that timer.)
    """
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    log.warning("%s: the serve process is gone; stopping (ending in %.0fs at the latest)", role, grace)
    # The loop sees the parent gone by itself (done()); nothing to tell it.
    time.sleep(grace)
    log.error("%s: still busy %.0fs after the serve process died; ending now", role, grace)
    os._exit(EXIT_ORPHANED)


def _run_loop(
    name: str,
    step: Callable[[], int],
    wake: Event | threading.Event,
    done: Callable[[], bool],
    settings: Settings,
) -> None:
    """Run STEP until DONE; sleep until woken (or poll_seconds) when it found nothing."""
    poll = settings.pipeline.poll_seconds
    while not done():
        wake.clear()
        try:
            did = step()
        except Exception:
            log.exception("%s step failed; retrying in %.0fs", name, poll)
            did = 0
        if not did:
            wake.wait(poll)


def _steps(
    role: str,
    desk: Desk,
    wakes_next: Event | None,
    stopping: Event,
    done: Callable[[], bool],
    metrics: Metrics,
) -> Callable[[], int]:
    if role == "sender":
        sender = desk.sender(metrics)
        retention = _retention_step(desk, metrics)
        return lambda: sender.send_due(stop=done)[0] + retention()
    processor = desk.processor(metrics)
    transcriber = transcriber_for(desk.store, desk.settings.voicemail, stopping)
    transcribe_wake = threading.Event()
    if transcriber is not None:
        threading.Thread(
            target=_run_loop,
            args=("transcriber", transcriber.step, transcribe_wake, stopping.is_set, desk.settings),
            name="transcriber",
            daemon=True,
        ).start()

    def work() -> int:
        # A batch per transaction (one commit, one fsync for all of it); a
        # SIGTERM waits for the batch in hand, a fraction of a second.
        count = 0
        while count < 200 and not done():
            batch = processor.process_batch(processor.claim_batch)
            if not batch:
                break
            count += len(batch)
        if count:
            if wakes_next is not None:
                wakes_next.set()
            transcribe_wake.set()
        return count

    return work


def _retention_step(desk: Desk, metrics: Metrics) -> Callable[[], int]:
    """The daily [retention] job, in the sender's loop: it looks at most hourly whether a day has passed.

    The time of the last run is in the store (`privacy.retention`), so a
    restart neither runs it twice nor puts it off. Returns 0: deleting old
    rows is no reason for the sender not to sleep.
    """
    from postdesk.privacy.retention import daily_retention

    settings = desk.settings.retention
    next_look = [datetime.now(UTC)]

    def step() -> int:
        now = datetime.now(UTC)
        if not settings.enabled or now < next_look[0]:
            return 0
        next_look[0] = now + RETENTION_LOOK_EVERY
        try:
            with desk.store.transaction() as session:
                daily_retention(session, settings, now, metrics)
        except Exception:  # the job tries again at the next look; sending goes on meanwhile
            log.exception("retention run failed")
        return 0

    return step


def _die_with_parent() -> None:
    """Ask Linux to end this process when its parent dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the loop's parent check ends it within poll_seconds


def _safe_url(desk: Desk) -> str:
    return desk.store.engine.url.render_as_string(hide_password=True)
