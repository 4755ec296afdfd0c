"""Reply tokens: an HMAC-signed, ticket-bound tag in the reply address.

A reply address looks like ``support+10001-c7k2m4q9x3b5r8t1@example.com``:
the ticket number, a role letter, and a signature over both (and, for an
agent's token, over the agent's address too, so only that agent's mail can
use it). Knowing a ticket number is not enough to forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

CUSTOMER = "c"
AGENT = "a"

_TOKEN = re.compile(r"^(?P<ticket>\d{1,18})-(?P<role>[a-z])(?P<sig>[a-z2-7]{16})$")


@dataclass(frozen=True, slots=True)
class ReplyToken:
    ticket_id: int
    role: str
    signature: str

    def __str__(self) -> str:
        return f"{self.ticket_id}-{self.role}{self.signature}"


def _signature(secret: bytes, ticket_id: int, role: str, party: str) -> str:
    digest = hmac.new(secret, f"{ticket_id}:{role}:{party.lower()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def make_token(secret: bytes, ticket_id: int, role: str = CUSTOMER, party: str = "") -> ReplyToken:
    """A token for TICKET_ID; PARTY (an agent's address) binds it to one sender."""
    return ReplyToken(ticket_id, role, _signature(secret, ticket_id, role, party))


def reply_address(desk_address: str, token: ReplyToken) -> str:
    local, _, domain = desk_address.partition("@")
    return f"{local}+{token}@{domain}"


def tokens_in(recipients: list[str] | tuple[str, ...], desk_address: str) -> list[ReplyToken]:
    """Well-formed (not yet verified) tokens in plus-addresses of the desk address."""
    local, _, domain = desk_address.lower().partition("@")
    found = []
    for recipient in recipients:
        r_local, _, r_domain = recipient.strip().strip("<>").lower().partition("@")
        base, plus, tag = r_local.partition("+")
        if plus and base == local and r_domain == domain and (match := _TOKEN.match(tag)):
            found.append(ReplyToken(int(match["ticket"]), match["role"], match["sig"]))
    return found


def verify(secret: bytes, token: ReplyToken, party: str = "") -> bool:
    expected = _signature(secret, token.ticket_id, token.role, party)
    return hmac.compare_digest(expected, token.signature)
