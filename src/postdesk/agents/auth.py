"""Whether a trusted mail server vouches for an agent's mail (RFC 8601 Authentication-Results).

Only the trusted server's own header counts (`postdesk.parse.authres`).
It must show ``dkim=pass`` for the agent's domain
(``header.d``, or ``header.i`` in it) or ``spf=pass`` for it
(``smtp.mailfrom``). A pass for another domain proves nothing about the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from postdesk.core.mail import Mail
from postdesk.parse.authres import AuthResult, domain_of_identity, trusted_results


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    passed: bool
    reason: str


def authenticated(mail: Mail, agent_address: str, trusted_authserv_id: str) -> AuthVerdict:
    """Does the trusted server's Authentication-Results show a pass for AGENT_ADDRESS's domain?"""
    results = trusted_results(mail, trusted_authserv_id)
    if results is None:
        return AuthVerdict(False, f"no Authentication-Results header from {trusted_authserv_id}")
    return _verdict(results, domain_of_identity(agent_address))


def _verdict(results: tuple[AuthResult, ...], domain: str) -> AuthVerdict:
    seen = []
    for result in results:
        seen.append(f"{result.method}={result.outcome}")
        if result.outcome != "pass":
            continue
        if result.method == "dkim" and _dkim_domain_matches(result, domain):
            return AuthVerdict(True, f"dkim=pass for {domain}")
        if result.method == "spf" and domain_of_identity(result.property("smtp.mailfrom")) == domain:
            return AuthVerdict(True, f"spf=pass for {domain}")
    shown = ", ".join(seen) or "no results"
    return AuthVerdict(False, f"no dkim=pass or spf=pass for {domain} ({shown})")


def _dkim_domain_matches(result: AuthResult, domain: str) -> bool:
    if result.property("header.d") == domain:
        return True
    identity = result.property("header.i")
    return bool(identity) and domain_of_identity(identity) == domain
