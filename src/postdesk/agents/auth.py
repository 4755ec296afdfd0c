"""Whether a trusted mail server vouches for an agent's mail (RFC 8601 Authentication-Results).

Only the topmost Authentication-Results header written by the trusted
server counts: that is the one our border MTA added last, and RFC 8601
section 5 has it delete any header with its own authserv-id that arrived
from outside. It must show ``dkim=pass`` for the agent's domain
(``header.d``, or ``header.i`` in it) or ``spf=pass`` for it
(``smtp.mailfrom``). A pass for another domain proves nothing about the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import authres

from postdesk.core.mail import Mail


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    passed: bool
    reason: str


def authenticated(mail: Mail, agent_address: str, trusted_authserv_id: str) -> AuthVerdict:
    """Does the trusted server's Authentication-Results show a pass for AGENT_ADDRESS's domain?"""
    domain = agent_address.rpartition("@")[2].lower()
    trusted = trusted_authserv_id.strip().lower()
    for value in mail.header_values("authentication-results"):
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except authres.AuthResError:
            continue  # unreadable: not what our MX writes; look for the one it did write
        if (header.authserv_id or "").lower() != trusted:
            continue
        return _verdict(header, domain)
    return AuthVerdict(False, f"no Authentication-Results header from {trusted_authserv_id}")


def _verdict(header: authres.AuthenticationResultsHeader, domain: str) -> AuthVerdict:
    seen = []
    for result in header.results:
        method, outcome = (result.method or "").lower(), (result.result or "").lower()
        properties = {f"{p.type}.{p.name}".lower(): (p.value or "").lower() for p in result.properties}
        seen.append(f"{method}={outcome}")
        if outcome != "pass":
            continue
        if method == "dkim" and _dkim_domain_matches(properties, domain):
            return AuthVerdict(True, f"dkim=pass for {domain}")
        if method == "spf" and _domain_of(properties.get("smtp.mailfrom", "")) == domain:
            return AuthVerdict(True, f"spf=pass for {domain}")
    shown = ", ".join(seen) or "no results"
    return AuthVerdict(False, f"no dkim=pass or spf=pass for {domain} ({shown})")


def _dkim_domain_matches(properties: dict[str, str], domain: str) -> bool:
    if properties.get("header.d") == domain:
        return True
    identity = properties.get("header.i", "")
    return bool(identity) and _domain_of(identity) == domain


def _domain_of(value: str) -> str:
    return value.strip().strip("<>").rpartition("@")[2].lower()
