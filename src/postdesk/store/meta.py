"""Small values the desk keeps in its own database."""

from __future__ import annotations

import secrets

from postdesk.store.models import Meta
from postdesk.store.portable import insert_ignoring_conflict
from postdesk.store.session import Store

TOKEN_SECRET_KEY = "reply_token_secret"


def generated_secret(store: Store) -> bytes:
    """The reply-token key made on first use and kept, so tokens outlive restarts.

    Several processes may start at once on an empty database (listeners and
    workers on several hosts): each offers a key, the first one stored wins,
    and all read that one back."""
    with store.transaction() as session:
        row = session.get(Meta, TOKEN_SECRET_KEY)
        if row is None:
            insert_ignoring_conflict(session, Meta, {"key": TOKEN_SECRET_KEY, "value": secrets.token_hex(32)})
            row = session.get_one(Meta, TOKEN_SECRET_KEY, populate_existing=True)
        return row.value.encode()
