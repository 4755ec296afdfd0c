"""The Authentication-Results header our own border server wrote (RFC 8601).

Only the topmost Authentication-Results header with the trusted
authserv-id counts: that is the one our border MTA added last, and RFC 8601
section 5 has it delete any header with its own authserv-id that arrived
from outside. Headers with another authserv-id were written by someone we
do not know, and prove nothing. Agent mail (agents/auth.py) and the spam
verdict (spam/verdict.py) both read it here.
"""

from __future__ import annotations

from dataclasses import dataclass

import authres

from postdesk.core.mail import Mail


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One method's result: ``dkim=pass header.d=example.com`` → ("dkim", "pass", {"header.d": ...})."""

    method: str
    outcome: str
    properties: tuple[tuple[str, str], ...]

    def property(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


def trusted_results(mail: Mail, trusted_authserv_id: str) -> tuple[AuthResult, ...] | None:
    """The results in the topmost readable header from TRUSTED_AUTHSERV_ID; None when there is none."""
    trusted = trusted_authserv_id.strip().lower()
    if not trusted:
        return None
    for value in mail.header_values("authentication-results"):
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except authres.AuthResError:
            continue  # unreadable: not what our MX writes; look for the one it did write
        if (header.authserv_id or "").lower() != trusted:
            continue
        return tuple(_result(result) for result in header.results)
    return None


def _result(result: authres.AuthenticationResult) -> AuthResult:
    properties = tuple(
        (f"{p.type}.{p.name}".lower(), (p.value or "").strip().strip("<>").lower()) for p in result.properties
    )
    return AuthResult((result.method or "").lower(), (result.result or "").lower(), properties)


def domain_of_identity(value: str) -> str:
    """The domain of an address or a bare domain (``smtp.mailfrom``, ``header.i``, ``header.from``)."""
    return value.strip().strip("<>").rpartition("@")[2].lower()
