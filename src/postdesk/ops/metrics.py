"""What the desk reports while it works, and how a child process reports it.

Components are handed a `Metrics` and call it; they never know whether
anyone listens. `NoMetrics` is the default (commands run without
`--metrics`). `serve` runs the pipeline and the sender in child processes
(serve.py), so the one Prometheus registry lives in the parent: children get
a `QueueMetrics` that sends each event over a multiprocessing queue, and
`forward` (a thread in the parent) applies them to the real recorder
(`postdesk.ops.exporter.PrometheusMetrics`). That keeps counters correct
across child restarts without prometheus-client's multiprocess files.

A stage reports a decision worth counting through its env, as dedupe does::

    env.metrics.dedupe_decision(decision.rule or "none", decision.action)

which becomes ``postdesk_dedupe_decisions_total{rule="same-sender-repeat",action="merge"}``.
Label values must come from a small fixed set (rule names, not addresses).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Metrics(Protocol):
    def received(self, listener: str, outcome: str) -> None:
        """A message over LISTENER (smtp, lmtp) ended in OUTCOME.

        OUTCOME: stored, tempfail, too_large, not_a_mail, error, unknown_recipient, busy."""

    def stage_seconds(self, stage: str, seconds: float) -> None:
        """Pipeline stage STAGE took SECONDS for one message."""

    def processed(self, outcome: str) -> None:
        """The pipeline finished a message: OUTCOME done or failed."""

    def ack_suppressed(self, reason: str) -> None:
        """The loop guard kept an acknowledgement back: REASON headers, sender or machine_mail."""

    def dedupe_decision(self, rule: str, action: str) -> None:
        """The dedupe stage applied RULE and took ACTION."""

    def automatic_mail_held(self, limit: str) -> None:
        """An automatic mail was held, not sent: LIMIT is the limit's name (deliver/limits.py)."""

    def delivery(self, outcome: str) -> None:
        """The sender tried an outbox mail: OUTCOME sent, deferred or failed."""

    def retention_deleted(self, kind: str, count: int) -> None:
        """A retention run deleted COUNT rows of KIND (tickets, messages, raw_mails...)."""


# The events a child may send: the Metrics methods, nothing else.
EVENTS = frozenset(
    {
        "received",
        "stage_seconds",
        "processed",
        "ack_suppressed",
        "dedupe_decision",
        "automatic_mail_held",
        "delivery",
        "retention_deleted",
    }
)


@dataclass(frozen=True)
class NoMetrics:
    """Nobody is listening: every report is dropped."""

    def received(self, listener: str, outcome: str) -> None:
        pass

    def stage_seconds(self, stage: str, seconds: float) -> None:
        pass

    def processed(self, outcome: str) -> None:
        pass

    def ack_suppressed(self, reason: str) -> None:
        pass

    def dedupe_decision(self, rule: str, action: str) -> None:
        pass

    def automatic_mail_held(self, limit: str) -> None:
        pass

    def delivery(self, outcome: str) -> None:
        pass

    def retention_deleted(self, kind: str, count: int) -> None:
        pass


@dataclass(frozen=True)
class QueueMetrics:
    """A child process's reports, sent to the parent over QUEUE (never blocks the worker)."""

    queue: Queue[Any]

    def _send(self, event: str, *args: Any) -> None:
        self.queue.put_nowait((event, args))

    def received(self, listener: str, outcome: str) -> None:
        self._send("received", listener, outcome)

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self._send("stage_seconds", stage, seconds)

    def processed(self, outcome: str) -> None:
        self._send("processed", outcome)

    def ack_suppressed(self, reason: str) -> None:
        self._send("ack_suppressed", reason)

    def dedupe_decision(self, rule: str, action: str) -> None:
        self._send("dedupe_decision", rule, action)

    def automatic_mail_held(self, limit: str) -> None:
        self._send("automatic_mail_held", limit)

    def delivery(self, outcome: str) -> None:
        self._send("delivery", outcome)

    def retention_deleted(self, kind: str, count: int) -> None:
        self._send("retention_deleted", kind, count)


def forward(queue: Queue[Any], target: Metrics) -> None:
    """Apply the events children put on QUEUE to TARGET until a None arrives."""
    while True:
        try:
            item = queue.get()
        except (EOFError, OSError):  # the queue itself is gone: the desk is stopping
            return
        except Exception:  # a report cut short by a child killed mid-write
            log.exception("a metrics report could not be read")
            continue
        if item is None:
            return
        event, args = item
        if event in EVENTS:
            try:
                getattr(target, event)(*args)
            except Exception:  # a bad label must not stop the reports that follow
                log.exception("metrics event %s%r not recorded", event, args)
