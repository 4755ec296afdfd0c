"""Logging: readable text by default, one JSON object per line with --log-format json.

Message bodies and passwords never go into log records at info level; the
pipeline logs ids, kinds and decisions only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed in `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiosmtpd logs every SMTP line at info; only its warnings matter to ops.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # Alembic says "Context impl SQLiteImpl" at info on every command that opens the store.
    logging.getLogger("alembic.runtime.migration").setLevel(max(root.level, logging.WARNING))
    # bm25s sets its own logger to DEBUG on import (a line per index built): follow ours.
    logging.getLogger("bm25s").setLevel(max(root.level, logging.INFO))
