"""`postdesk serve`: listeners, a pipeline worker and a sender in one process.

The listeners run on the asyncio loop; the worker and the sender are threads
(the database work is blocking), and so is the voicemail transcriber when a
`transcribe_command` is configured. The spool writer wakes the worker after each
commit and the worker wakes the sender, so a mail is usually processed and
answered within milliseconds; polling covers mail stored by other processes.
On SIGTERM/SIGINT the listeners stop accepting, what was received is
committed, the worker finishes its message, and the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable

from postdesk.app import Desk
from postdesk.ingest.smtp import SpoolHandler, start_listener
from postdesk.ingest.spool import SpoolWriter
from postdesk.voicemail.transcribe import transcriber_for

log = logging.getLogger(__name__)


def serve(desk: Desk, *, process: bool = True, send: bool = True) -> None:
    asyncio.run(_serve(desk, process, send))


async def _serve(desk: Desk, process: bool, send: bool) -> None:
    settings = desk.settings
    work_wake, send_wake, stopping = threading.Event(), threading.Event(), threading.Event()
    writer = SpoolWriter(desk.store, on_stored=work_wake.set)
    writer.start()
    servers = []
    for name, listener in (("smtp", settings.ingest.smtp), ("lmtp", settings.ingest.lmtp)):
        if listener.enabled:
            handler = SpoolHandler(writer, name, lmtp=name == "lmtp")
            server = await start_listener(
                handler, listener.host, listener.port, listener.max_message_bytes, lmtp=name == "lmtp"
            )
            servers.append(server)
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                log.info("%s listener on %s:%d", name.upper(), host, port)

    processor, sender = desk.processor(), desk.sender()
    transcriber = transcriber_for(desk.store, settings.voicemail, stopping)
    transcribe_wake = threading.Event()

    def work() -> int:
        count = processor.process_pending(limit=200)
        if count:
            send_wake.set()
            transcribe_wake.set()
        return count

    def deliver() -> int:
        return sender.send_due()[0]

    poll = settings.pipeline.poll_seconds
    threads = []
    if process:
        threads.append(
            threading.Thread(
                target=_loop, args=(work, work_wake, stopping, poll), name="pipeline", daemon=True
            )
        )
    if send:
        threads.append(
            threading.Thread(
                target=_loop, args=(deliver, send_wake, stopping, poll), name="sender", daemon=True
            )
        )
    if process and transcriber is not None:
        threads.append(
            threading.Thread(
                target=_loop,
                args=(transcriber.step, transcribe_wake, stopping, poll),
                name="transcriber",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    log.info("postdesk is running: store %s, outbound %s", _safe_url(desk), settings.outbound.transport)

    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown.set)
    await shutdown.wait()

    log.info("shutting down: no new connections, finishing what was received")
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()
    await asyncio.to_thread(writer.stop)
    stopping.set()
    work_wake.set()
    send_wake.set()
    transcribe_wake.set()
    for thread in threads:
        await asyncio.to_thread(thread.join)
    desk.store.dispose()
    log.info("stopped")


def _loop(step: Callable[[], int], wake: threading.Event, stopping: threading.Event, poll: float) -> None:
    """Run STEP until stopped; sleep until woken (or POLL seconds) when it found nothing."""
    while not stopping.is_set():
        wake.clear()
        try:
            did = step()
        except Exception:
            log.exception("%s step failed; retrying in %.0fs", threading.current_thread().name, poll)
            did = 0
        if not did:
            wake.wait(poll)


def _safe_url(desk: Desk) -> str:
    return desk.store.engine.url.render_as_string(hide_password=True)
