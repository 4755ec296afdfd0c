"""Wiring: the settings, the store and what is derived from them, built once
per process and handed to whatever runs (CLI command, listener, worker)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from postdesk.agents.digest import queue_digests
from postdesk.config.model import Settings
from postdesk.deliver.delivery import Sender, transport_for
from postdesk.faq.store import load_entries
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.pipeline.stages.dedupe import build_index
from postdesk.pipeline.worker import Processor
from postdesk.store.meta import generated_secret
from postdesk.store.schema import require_current
from postdesk.store.session import Store, open_store
from postdesk.templates.render import MailTemplates

# Imported where used: bm25s and numpy only when there are FAQ entries to
# index, Alembic only when migrating; a worker on an empty desk needs neither
# (docs/benchmarks.md, "Start-up").
if TYPE_CHECKING:
    from postdesk.faq.index import FaqIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Desk:
    settings: Settings
    store: Store
    secret: bytes
    templates: MailTemplates

    def processor(self, metrics: Metrics | None = None) -> Processor:
        """A pipeline worker, with the dedupe index built from the store."""
        metrics = metrics or NoMetrics()
        index = build_index(self.store, self.settings, datetime.now(UTC))
        return Processor(
            self.store,
            self.settings,
            self.secret,
            self.templates,
            metrics=metrics,
            dedupe_index=index,
            faq=self.faq_index(),
        )

    def faq_index(self) -> FaqIndex | None:
        """The FAQ index from the faq_entries table; None when suggestions are off or nothing is indexed."""
        if not self.settings.faq.suggest:
            return None
        with self.store.read() as session:
            entries = load_entries(session)
        if not entries:
            if Path(self.settings.faq.path).is_dir():
                log.warning("FAQ folder %s is not indexed: run `postdesk faq index`", self.settings.faq.path)
            return None
        from postdesk.faq.index import FaqIndex

        return FaqIndex(entries)

    def sender(self, metrics: Metrics | None = None) -> Sender:
        transport = transport_for(self.settings.outbound)

        def digests(session: Session, now: datetime) -> int:
            return queue_digests(session, self.settings, self.templates, self.secret, now)

        return Sender(
            self.store, transport, self.settings.outbound, metrics=metrics or NoMetrics(), prepare=digests
        )


def open_desk(settings: Settings, *, migrate: bool = False, synchronous: str = "FULL") -> Desk:
    """Open the store (migrating it first if asked) and derive the rest.

    SYNCHRONOUS (SQLite): FULL for what acknowledges mail to a sender; the
    pipeline and the sender may use NORMAL, since all they write can be
    derived again from the durable spool (docs/architecture.md).
    Raises SchemaOutOfDate when the schema is behind and MIGRATE is false.
    """
    store = open_store(settings.store.url, synchronous=synchronous)
    if migrate:
        from postdesk.store.migrate import upgrade

        upgrade(store)
    else:
        require_current(store)
    secret = settings.desk.secret.encode() if settings.desk.secret else generated_secret(store)
    override = Path(settings.templates.path) if settings.templates.path else None
    return Desk(settings=settings, store=store, secret=secret, templates=MailTemplates(override))
