"""The few settings `postdesk mailgate` reads, without the settings model.

The mail server starts mailgate once per mail, and importing pydantic and
building the model took two thirds of its start (docs/benchmarks.md,
"Start-up"). So mailgate reads the file and the POSTDESK_* overrides the
same way every command does (`load.read_config`), takes the keys it needs
when each is plainly valid, and hands anything else to the full model,
which words the error exactly as every other command does.

Only the keys mailgate uses are checked here: a mistake in, say, `[faq]`
does not hold up customers' mail at the mail server; `postdesk serve` and
`postdesk process` refuse to start on it. A section mailgate reads is
taken only when it holds nothing but the keys read here, so a misspelt
`[store] ulr` never sends mail to the default database, and a wrong value
of another key in it is reported as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postdesk.config.load import read_config, validate
from postdesk.config.values import (
    DEFAULT_DESK_ADDRESS,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_STORE_URL,
    STORE_URL,
    is_alias,
    is_plain_address,
)
from postdesk.core.recipients import OwnRecipients, own_recipients

# The keys of [store] and [ingest.smtp] this reader checks itself. A section
# with any other key (a misspelling, or a key mailgate does not use, such as
# `port = 'many'`) goes through the model, so its mistake is still exit 75.
STORE_KEYS = frozenset({"url"})
SMTP_KEYS = frozenset({"max_message_bytes"})


@dataclass(frozen=True, slots=True)
class PipeSettings:
    """What storing one piped mail needs."""

    store_url: str
    max_message_bytes: int
    own_recipients: OwnRecipients


def pipe_settings(path: Path | None, environ: Mapping[str, str]) -> PipeSettings:
    """mailgate's settings from PATH and ENVIRON; raises ConfigError as load_settings does."""
    data, overrides = read_config(path, environ)
    plain = _plainly_valid(data)
    if plain is not None:
        return plain
    settings = validate(path, data, overrides)
    return PipeSettings(settings.store.url, settings.ingest.smtp.max_message_bytes, settings.own_recipients)


def _plainly_valid(data: dict[str, Any]) -> PipeSettings | None:
    """The settings when every key read is of its type and passes the model's check; else None."""
    store = _table(data, "store", STORE_KEYS)
    ingest = _table(data, "ingest")
    smtp = _table(ingest, "smtp", SMTP_KEYS) if ingest is not None else None
    desk = _table(data, "desk")
    if store is None or smtp is None or desk is None:
        return None
    url = store.get("url", DEFAULT_STORE_URL)
    limit = smtp.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES)
    address = desk.get("address", DEFAULT_DESK_ADDRESS)
    aliases = desk.get("aliases", [])
    queue_addresses = _queue_addresses(data.get("queues", []))
    if not (isinstance(url, str) and STORE_URL.match(url)):
        return None
    if type(limit) is not int or limit <= 0:  # not a bool, which the model reads as 0 or 1
        return None
    if not (isinstance(address, str) and is_plain_address(address)):
        return None
    if not isinstance(aliases, list) or not all(isinstance(a, str) and is_alias(a) for a in aliases):
        return None
    if queue_addresses is None:
        return None
    addresses = {address.lower(), *(queue_address.lower() for queue_address in queue_addresses)}
    return PipeSettings(url, limit, own_recipients(addresses, aliases))


def _table(data: dict[str, Any], key: str, known: frozenset[str] | None = None) -> dict[str, Any] | None:
    """DATA[KEY] as a table ({} when absent); None when it is no table or has a key outside KNOWN."""
    table = data.get(key, {})
    if not isinstance(table, dict):
        return None
    if known is not None and not table.keys() <= known:
        return None
    return table


def _queue_addresses(queues: Any) -> list[str] | None:
    """Every [[queues]] address, when each is a plain one; else None."""
    if not isinstance(queues, list):
        return None
    found: list[str] = []
    for queue in queues:
        addresses = queue.get("addresses", []) if isinstance(queue, dict) else None
        if not isinstance(addresses, list):
            return None
        if not all(isinstance(address, str) and is_plain_address(address) for address in addresses):
            return None
        found.extend(addresses)
    return found
