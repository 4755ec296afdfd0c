"""The spam-check stage (before the transaction): the sender verdict of a customer's mail.

What the server in front says (`postdesk.spam.verdict`), and where no filter
runs in front, what a SpamAssassin spamd says (`[spam] spamd`). It runs
before the message's transaction opens, so a slow spamd never holds the
database's write lock. spamd down: the mail is processed as not checked,
and the log says so; a filter that is down must not cost a customer's mail.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from postdesk.config.model import Settings, parse_listen
from postdesk.core.work import Work
from postdesk.spam.spamd import SpamdError, check
from postdesk.spam.verdict import CHECKED_KINDS, Verdict, score_verdict, sender_verdict


def check_spam(work: Work, settings: Settings) -> Work:
    mail = work.mail
    if mail is None or work.kind not in CHECKED_KINDS or not settings.spam.enabled:
        return work
    verdict = sender_verdict(mail, settings.spam, settings.spam_authserv_id)
    if not verdict.is_spam and settings.spam.spamd:
        verdict = _ask_spamd(work, settings)
    work = work.with_fact(verdict)
    if verdict.is_spam or settings.spam.spamd:
        return replace(work, notes=work.note(f"spam check: {verdict.reason}"))
    return work


def _ask_spamd(work: Work, settings: Settings) -> Verdict:
    spam = settings.spam
    raw = work.inbound.raw
    if len(raw) > spam.spamd_max_bytes:
        return Verdict(False, f"not checked by spamd: {len(raw)} bytes > spamd_max_bytes")
    host, port = parse_listen(spam.spamd)
    try:
        answer = check(raw, host, port, spam.spamd_timeout_seconds)
    except SpamdError as error:
        logging.getLogger(__name__).warning(
            "inbound %d not spam-checked: %s", work.inbound.id, error, extra={"inbound_id": work.inbound.id}
        )
        return Verdict(False, f"not checked: {error}")
    return score_verdict(answer.score, answer.spam, spam, "spamd")
