"""Which envelope recipients are the desk's own: a pure decision over plain values.

The listeners refuse any other recipient at RCPT (`550 5.1.1`), and mail the
mail server routed here anyway (mailgate) is marked with them. A recipient
is ours when it is one of the desk's exact addresses, or that address with a
`+tag` (reply tokens: ``support+10001-c…@example.com``; the tag is checked
later, when the mail is threaded), or at a domain the desk takes whole
(`[desk] aliases = ["@help.example"]`). Compared case-insensitively: the
domain is case-insensitive by RFC 5321, and no mail server in front of a
desk treats local parts as case-sensitive either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OwnRecipients:
    """The desk's addresses (lower-case) and the domains it takes whole (lower-case, without '@')."""

    addresses: frozenset[str]
    domains: frozenset[str] = frozenset()


def own_recipients(addresses: Iterable[str], aliases: Iterable[str] = ()) -> OwnRecipients:
    """ADDRESSES are exact; an ALIAS is an exact address or '@domain' for every address there."""
    exact = {address.strip().lower() for address in addresses}
    domains = set()
    for alias in aliases:
        alias = alias.strip().lower()
        if alias.startswith("@"):
            domains.add(alias[1:])
        else:
            exact.add(alias)
    return OwnRecipients(frozenset(exact), frozenset(domains))


def is_ours(recipient: str, own: OwnRecipients) -> bool:
    """Whether RECIPIENT (an envelope address, with or without <>) is one of the desk's."""
    address = recipient.strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return False
    if domain in own.domains or address in own.addresses:
        return True
    base, plus, _tag = local.partition("+")
    return bool(plus) and f"{base}@{domain}" in own.addresses


def foreign(recipients: Iterable[str], own: OwnRecipients) -> list[str]:
    """The RECIPIENTS that are not the desk's, in their order."""
    return [recipient for recipient in recipients if not is_ours(recipient, own)]
