"""`serve --metrics HOST:PORT`: Prometheus metrics on /metrics and a health check on /healthz.

Counters and histograms are kept in this process (`PrometheusMetrics`;
children's reports arrive through `postdesk.ops.metrics.forward`). Queue
depths are not counted but read from the store at each scrape, so they are
right whoever changed the rows (other hosts, `postdesk inbound retry`).
/healthz answers 503 when the store cannot take mail: over a fresh
connection it reads the spool and writes a row in a transaction it then
rolls back, so a read-only database is found as surely as an unreachable
one. A load balancer or systemd watchdog then knows this desk cannot accept
mail durably. The answer is kept for `[metrics] health_cache_seconds`, so
probes, however frequent, cost the database one check per interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.pool import NullPool

from postdesk.store.models import Inbound, Meta, Outbox
from postdesk.store.session import Store

log = logging.getLogger(__name__)

# Stage latencies range from microseconds (classify) to seconds (a large mail's parse).
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusMetrics:
    """The `Metrics` recorder behind /metrics (see postdesk.ops.metrics.Metrics)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._received = Counter(
            "postdesk_mails_received",
            "Messages received by a listener, by outcome (stored = answered 250 after commit).",
            ["listener", "outcome"],
            registry=registry,
        )
        self._stages = Histogram(
            "postdesk_stage_seconds",
            "Time one message spent in a pipeline stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self._processed = Counter(
            "postdesk_messages_processed",
            "Messages the pipeline finished, by outcome (done, failed).",
            ["outcome"],
            registry=registry,
        )
        self._suppressed = Counter(
            "postdesk_acknowledgements_suppressed",
            "Acknowledgements the loop guard kept back, by reason.",
            ["reason"],
            registry=registry,
        )
        self._dedupe = Counter(
            "postdesk_dedupe_decisions",
            "Decisions of the dedupe stage, by rule and action.",
            ["rule", "action"],
            registry=registry,
        )
        self._held = Counter(
            "postdesk_automatic_mail_held",
            "Automatic mails held over a limit instead of sent, by limit.",
            ["limit"],
            registry=registry,
        )
        self._retention = Counter(
            "postdesk_retention_deleted",
            "Rows the [retention] job deleted, by kind (tickets, messages, raw_mails, spooled...).",
            ["kind"],
            registry=registry,
        )
        self._deliveries = Counter(
            "postdesk_outbox_deliveries",
            "Attempts to deliver an outbox mail, by outcome (sent, deferred, failed).",
            ["outcome"],
            registry=registry,
        )

    def received(self, listener: str, outcome: str) -> None:
        self._received.labels(listener, outcome).inc()

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self._stages.labels(stage).observe(seconds)

    def processed(self, outcome: str) -> None:
        self._processed.labels(outcome).inc()

    def ack_suppressed(self, reason: str) -> None:
        self._suppressed.labels(reason).inc()

    def dedupe_decision(self, rule: str, action: str) -> None:
        self._dedupe.labels(rule, action).inc()

    def automatic_mail_held(self, limit: str) -> None:
        self._held.labels(limit).inc()

    def delivery(self, outcome: str) -> None:
        self._deliveries.labels(outcome).inc()

    def retention_deleted(self, kind: str, count: int) -> None:
        self._retention.labels(kind).inc(count)


# Outbox rows the gauge counts: not sent, and not folded into an agent digest.
OUTBOX_WAITING = ("pending", "sending", "failed", "held")


@dataclass(frozen=True)
class QueueDepths(Collector):
    """Gauges read from the store at scrape time: spool and outbox rows by status."""

    store: Store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("postdesk_store_up", "1 when the store answered this scrape's queries.")
        inbound = GaugeMetricFamily(
            "postdesk_inbound_messages", "Spool rows not done, by status.", labels=["status"]
        )
        outbox = GaugeMetricFamily(
            "postdesk_outbox_mails", "Outbox rows not sent, by status.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "postdesk_inbound_oldest_pending_seconds",
            "Age of the oldest message waiting for the pipeline (0 when none waits).",
        )
        try:
            with self.store.read() as session:
                spool = dict(_counts(session, Inbound.status, ("pending", "failed")))
                mails = dict(_counts(session, Outbox.status, OUTBOX_WAITING))
                first = session.execute(
                    select(func.min(Inbound.received_at)).where(Inbound.status == "pending")
                ).scalar_one()
        except Exception as error:  # the scrape still answers, saying the store is down
            log.warning("queue depths not read: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for status in ("pending", "failed"):
            inbound.add_metric([status], spool.get(status, 0))
        for status in OUTBOX_WAITING:
            outbox.add_metric([status], mails.get(status, 0))
        oldest.add_metric([], _age_seconds(first))
        yield from (up, inbound, outbox, oldest)


def _age_seconds(since: datetime | str | None) -> float:
    if since is None:
        return 0.0
    # min() over a column comes back untyped on SQLite: a naive UTC string there.
    when = datetime.fromisoformat(since) if isinstance(since, str) else since
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def _counts(
    session: Session, column: InstrumentedAttribute[str], statuses: Iterable[str]
) -> list[tuple[str, int]]:
    # Filtering on the status keeps the count on the (status, …) index, away from the done rows.
    rows = session.execute(
        select(column, func.count()).where(column.in_(tuple(statuses))).group_by(column)
    ).all()
    return [(status, count) for status, count in rows]


# The key of the row /healthz writes and rolls back; it is never committed.
PROBE_KEY = "healthz-probe"


def health_probe(url: str) -> Callable[[], str | None]:
    """A check over a new connection that the spool can be read and written: None when fine, else why not."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    args: dict[str, Any] = {"timeout": 5} if sqlite else {"connect_timeout": 5}
    engine: Engine = create_engine(url, poolclass=NullPool, connect_args=args)

    def probe() -> str | None:
        if sqlite and parsed.database not in (None, "", ":memory:"):
            problem = _sqlite_file_problem(Path(parsed.database))
            if problem:
                return problem
        try:
            with engine.connect() as connection:
                try:
                    connection.execute(select(Inbound.id).limit(1)).all()
                    # What a listener does with each mail, undone: a read-only database file,
                    # a PostgreSQL in read-only mode or a write lock held too long fail here.
                    connection.execute(insert(Meta).values(key=PROBE_KEY, value=""))
                finally:
                    connection.rollback()
        except Exception as error:
            return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return None

    return probe


def _sqlite_file_problem(database: Path) -> str | None:
    """Why the SQLite file at DATABASE cannot take a write, asked of the kernel.

    The rolled-back write alone cannot tell: SQLite reuses, within one
    process, a read-write descriptor another connection to the same file
    closed, so it writes on after the file was made read-only. `access`
    answers as an open would now: modes, a read-only mount, and the
    immutable flag that binds root too.
    """
    if not database.exists():  # SQLite would create it on connect; a missing file is the problem
        return f"database file {database} is missing"
    for path in (database, database.parent):  # the folder: SQLite creates -wal and -shm there
        if not os.access(path, os.W_OK):
            kind = "database file" if path == database else "database folder"
            return f"{kind} {path} is not writable (mode, read-only file system or immutable)"
    return None


def cached(
    check: Callable[[], str | None], seconds: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[], str | None]:
    """CHECK's answer, asked again only once SECONDS have passed since it was last asked.

    A load balancer, Kubernetes and a watchdog may each probe every second;
    the database then still sees one check per interval. Concurrent probes
    wait for the one check under way instead of starting their own.
    """
    lock = threading.Lock()
    last: list[tuple[float, str | None]] = []

    def probe() -> str | None:
        with lock:
            if last and clock() - last[0][0] < seconds:
                return last[0][1]
            answer = check()
            last[:] = [(clock(), answer)]
            return answer

    return probe


def wsgi_app(registry: CollectorRegistry, probe: Callable[[], str | None]) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            problem = probe()
            status = "200 OK" if problem is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n" if problem is None else f"store cannot take mail: {problem}\n".encode()]
        if path in ("/metrics", "/"):
            return metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"/metrics or /healthz\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # a scrape every few seconds is not news


@dataclass
class MetricsServer:
    """The HTTP endpoint in a thread of its own; `stop` ends it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_metrics_server(
    host: str, port: int, registry: CollectorRegistry, probe: Callable[[], str | None]
) -> MetricsServer:
    server = make_server(host, port, wsgi_app(registry, probe), _Server, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return MetricsServer(server, thread)


def prometheus_metrics(store: Store) -> PrometheusMetrics:
    """A registry with the desk's counters and the store's queue depths."""
    registry = CollectorRegistry()
    registry.register(QueueDepths(store))
    return PrometheusMetrics(registry)
