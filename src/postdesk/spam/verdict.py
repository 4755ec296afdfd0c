"""The sender verdict: is a mail spam, is its From forged, from what the server in front says.

A pure function of the mail's headers and the ``[spam]`` settings
(docs/spam.md). Spam headers (SpamAssassin, rspamd, a plain ``X-Spam``)
are honoured from anyone: they can only make the desk quieter, so a forged
one harms only its sender. Authentication-Results count only from the
trusted authserv-id (`postdesk.parse.authres`): anyone can write
``dmarc=fail`` for a stranger's domain to silence the desk towards them,
and only our own border server's word says the From really was forged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from postdesk.config.model import SpamSettings
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Mail, domain_of
from postdesk.parse.authres import AuthResult, domain_of_identity, trusted_results


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the desk makes of a mail's sender: spam or not, why, and whether its From is forged."""

    is_spam: bool
    reason: str
    # DMARC failed for the From domain at the trusted server: no automatic mail to that From, ever.
    forged_from: bool = False


# Only what a person seems to have written gets a verdict: machines get no automatic mail anyway.
CHECKED_KINDS = frozenset({MailKind.CUSTOMER})

NOT_SPAM = Verdict(False, "no spam verdict")

_YES = frozenset({"yes", "true", "1", "y"})
_SCORE = re.compile(r"\bscore=(-?\d+(?:\.\d+)?)", re.IGNORECASE)
# X-Spamd-Result: "default: True [16.50 / 15.00]; ..."
_SPAMD_RESULT = re.compile(r"^\s*[\w-]+:\s*(\w+)\s*\[\s*(-?\d+(?:\.\d+)?)\s*/", re.IGNORECASE)


def sender_verdict(mail: Mail, settings: SpamSettings, trusted_authserv_id: str) -> Verdict:
    """The first reason MAIL is spam (headers, then the trusted server's Authentication-Results)."""
    if not settings.enabled:
        return NOT_SPAM
    reason = next(_header_reasons(mail, settings), None)
    if reason is not None:
        return Verdict(True, reason)
    results = trusted_results(mail, trusted_authserv_id)
    if results is not None:
        found = _authentication_verdict(results, domain_of(mail.sender_email), settings, trusted_authserv_id)
        if found is not None:
            return found
    return NOT_SPAM


def score_verdict(score: float, said_spam: bool, settings: SpamSettings, source: str) -> Verdict:
    """A SpamAssassin score (from spamd) held against ``spamassassin_threshold``."""
    if said_spam and settings.honour_spam_headers:
        return Verdict(True, f"{source}: spam (score {score:g})")
    if score >= settings.spamassassin_threshold:
        return Verdict(True, f"{source}: score {score:g} >= {settings.spamassassin_threshold:g}")
    return Verdict(False, f"{source}: not spam (score {score:g})")


def _header_reasons(mail: Mail, settings: SpamSettings) -> Iterator[str]:
    honour = settings.honour_spam_headers
    styles = settings.headers
    if "spamassassin" in styles:
        flag = _first_word(mail.header("x-spam-flag"))
        if honour and flag in _YES:
            yield "X-Spam-Flag: YES"
        status = mail.header("x-spam-status")
        if status is not None:
            if honour and _first_word(status) in _YES:
                yield f"X-Spam-Status: {_short(status)}"
            score = _number(_SCORE.search(status))
            if score is not None and score >= settings.spamassassin_threshold:
                yield f"X-Spam-Status score {score:g} >= {settings.spamassassin_threshold:g}"
    if "rspamd" in styles:
        action = " ".join((mail.header("x-rspamd-action") or "").lower().split())
        if honour and action in settings.rspamd_actions:
            yield f"X-Rspamd-Action: {action}"
        yield from _rspamd_scores(mail, settings)
    if "x-spam" in styles and honour and _first_word(mail.header("x-spam")) in _YES:
        yield "X-Spam: Yes"


def _rspamd_scores(mail: Mail, settings: SpamSettings) -> Iterator[str]:
    threshold = settings.rspamd_threshold
    score = _float(mail.header("x-spam-score"))
    if score is not None and score >= threshold:
        yield f"X-Spam-Score {score:g} >= {threshold:g}"
    result = _SPAMD_RESULT.match(mail.header("x-spamd-result") or "")
    if result is not None:
        if settings.honour_spam_headers and result.group(1).lower() in _YES:
            yield f"X-Spamd-Result: {result.group(1)} [{result.group(2)}]"
        score = float(result.group(2))
        if score >= threshold:
            yield f"X-Spamd-Result score {score:g} >= {threshold:g}"


def _authentication_verdict(
    results: tuple[AuthResult, ...], from_domain: str, settings: SpamSettings, authserv_id: str
) -> Verdict | None:
    outcomes = {(r.method, r.outcome) for r in results}
    if settings.dmarc_fail:
        for result in results:
            if result.method != "dmarc" or result.outcome != "fail":
                continue
            # The DMARC result names the domain it judged; without it, it judged the From.
            judged = domain_of_identity(result.property("header.from")) or from_domain
            if judged == from_domain:
                return Verdict(True, f"dmarc=fail for {from_domain or 'the From'} ({authserv_id})", True)
    if settings.spf_and_dkim_fail and {("spf", "fail"), ("dkim", "fail")} <= outcomes:
        return Verdict(True, f"spf=fail and dkim=fail ({authserv_id})")
    return None


def _first_word(value: str | None) -> str:
    words = (value or "").replace(",", " ").split()
    return words[0].lower() if words else ""


def _short(value: str) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


def _number(match: re.Match[str] | None) -> float | None:
    return float(match.group(1)) if match else None


def _float(value: str | None) -> float | None:
    try:
        return float((value or "").split()[0]) if value and value.split() else None
    except ValueError:
        return None
