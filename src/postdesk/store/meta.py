"""Small values the desk keeps in its own database."""

from __future__ import annotations

import secrets

from postdesk.store.models import Meta
from postdesk.store.session import Store

TOKEN_SECRET_KEY = "reply_token_secret"


def generated_secret(store: Store) -> bytes:
    """The reply-token key made on first use and kept, so tokens outlive restarts."""
    with store.transaction() as session:
        row = session.get(Meta, TOKEN_SECRET_KEY)
        if row is None:
            row = Meta(key=TOKEN_SECRET_KEY, value=secrets.token_hex(32))
            session.add(row)
        return row.value.encode()
