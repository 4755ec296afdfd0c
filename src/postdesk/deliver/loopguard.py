"""Whether the desk may send an automatic mail (acknowledgement, merge notice) in answer to a mail.

RFC 3834 section 2 and the design's security model: never answer
auto-submitted, bulk, list, bounce or no-reply mail, nor ourselves. The
checks read only the mail and its envelope; the per-sender hourly rate
limit needs the database and is applied separately by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from postdesk.classify.kind import classify, is_daemon_address, is_own_address, null_sender
from postdesk.core.kinds import MACHINE_KINDS
from postdesk.core.mail import Mail


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str
    # Which check refused (headers, sender, machine_mail): a metric label, unlike
    # the reason; not part of equality, which is about the verdict itself.
    check: str = field(default="", compare=False)


# Sender local parts that say "do not answer": no-reply and bounce-processing addresses.
# (VERP and ESP forms included: bounce-123=user=example.com@, bounces+abc@, list-bounces@).
_NO_REPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|bounces?)([-+_.=].*)?$|^.+[-+_.]bounces?$",
    re.IGNORECASE,
)

SUPPRESSING_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})

# Headers that mark mailing-list traffic: RFC 2369/2919, ezmlm, and the
# Japanese list servers (fml) whose admin notices carry only their own.
LIST_HEADERS = (
    "List-Id",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Help",
    "List-Owner",
    "List-Archive",
    "Mailing-List",
    "X-Mailing-List",
    "X-ML-Name",
    "X-MLServer",
)
# An address mail can be sent to: a dot-atom or quoted local part, a domain.
_ADDRESS = re.compile(r'^("[^"]+"|[^@\s"]+)@[^@\s".]+(\.[^@\s".]+)*\.?$')


def auto_reply_allowed(mail: Mail, envelope_sender: str | None, own_addresses: Collection[str]) -> Verdict:
    """May the desk send an automatic mail to this mail's sender? With the reason either way.

    `envelope_sender` is the SMTP MAIL FROM ('' for <>, None when unknown);
    `own_addresses` are the desk's addresses, lower-case.
    """
    for name, check in (("headers", _headers), ("sender", _sender), ("machine_mail", _kind)):
        refusal = check(mail, envelope_sender, own_addresses)
        if refusal is not None:
            return Verdict(False, refusal, name)
    return Verdict(True, "no loop risk found")


def _headers(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> str | None:
    auto_submitted = (mail.header("auto-submitted") or "").strip()
    # RFC 3834: anything but "no" (comments after it allowed) is automatic.
    if auto_submitted and auto_submitted.split("(")[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto_submitted[:40]}"
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in SUPPRESSING_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in LIST_HEADERS:
        if mail.header(name) is not None:
            return f"{name} header (mailing list)"
    suppress = mail.header("x-auto-response-suppress")
    if suppress is not None and suppress.strip().lower() not in ("", "none"):
        # Outlook/Exchange: the sender asked for no automatic responses
        # (All, OOF, AutoReply, DR, NDR, RN, NRN — any of them counts).
        return f"X-Auto-Response-Suppress: {suppress.strip()[:40]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if mail.header(name) is not None:
            return f"{name} header"
    return None


def _sender(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> str | None:
    if null_sender(mail, envelope_sender):
        return "empty return path <>"
    if mail.from_ is None or not _ADDRESS.match(mail.from_.email):
        return "no usable From address"
    for label, address in (("From", mail.from_.email), ("envelope sender", envelope_sender or "")):
        if not address:
            continue
        if is_daemon_address(address):
            return f"{label} {address} is a mail system address"
        if _NO_REPLY_LOCAL.match(address.rpartition("@")[0]):
            return f"{label} {address} is a no-reply address"
        if is_own_address(address, own):
            return f"{label} {address} is the desk's own address"
    # The answer would go to Reply-To: it must not be us either.
    for reply_to in mail.reply_to:
        if is_own_address(reply_to.email, own):
            return f"Reply-To {reply_to.email} is the desk's own address"
    return None


def _kind(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> str | None:
    classification = classify(mail, envelope_sender, own)
    if classification.kind in MACHINE_KINDS:
        return f"classified {classification.kind.value}: {classification.reason}"
    return None
