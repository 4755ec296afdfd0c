"""What kind of mail this is: a customer's, or machine mail that must not become a ticket reply.

`classify` decides among customer, auto_reply, bounce, abuse_report and
own_loop from the parsed mail and the SMTP envelope. Agent mail and
voicemail are recognised by later stages (they need config and the
database); every kind is one enum, `postdesk.core.kinds.MailKind`, shared by all.

The order of the checks matters, and each says why in its comment. A
signal that a human could produce by accident (a subject, a phrase in the
body) only counts together with a machine sender, so a customer who writes
"Undeliverable" in a subject still gets a ticket.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from postdesk.core.kinds import MailKind
from postdesk.core.mail import Mail
from postdesk.parse.subject import is_forward


@dataclass(frozen=True, slots=True)
class Classification:
    kind: MailKind
    reason: str


# Local parts of the addresses mail systems send bounces from.
DAEMON_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "mail-daemon",
        "maildaemon",
        "mdaemon",
        "postmaster",
        "post_master",
        "double-bounce",
    }
)

# Subjects of delivery reports, from the mail systems in the corpus and the
# common localisations of Exchange's. Only trusted together with a machine
# sender or a mail system's opening words.
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|return(ed)? to sender|mail delivery fail|delivery fail"
    r"|delivery status notification|delivery notification|non[- ]?delivery|failure notice|could not send"
    r"|not delivered|nicht zugestellt|unzustellbar|übermittlungsstatus|zustellung fehlgeschlagen"
    r"|non remis|non recapitabile|no se puede entregar|onbestelbaar|mail system error|delivery problem"
    r"|mail could not be delivered|message delivery|delivery report|nondeliverable|rejected|fail(ed|ure)"
    r"|returning (message )?to sender|delayed|error sending|エラー通知|送信エラー|配信エラー|不達",
    re.IGNORECASE,
)

# Phrases that open a delivery report in a mail system's own words; a
# customer's forward of one has their own text first, so these are only
# looked for at the top of the body.
_BOUNCE_OPENING = re.compile(
    r"this is the mail system at host|created automatically by mail delivery software"
    r"|this is the qmail-send program|delivery to the following recipients? (has )?failed"
    r"|could not be delivered to one or more recipients|your message did not reach some or all"
    r"|delivery has failed to these recipients|message could not be delivered|i'm sorry to have to inform you"
    r"|the original message was received at|permanent fatal errors|unable to deliver (your )?message"
    r"|was not delivered to|message delivery to .{1,100} failed|delivery failed|undeliverable"
    r"|could not deliver|returned mail|mail delivery (failed|error)|the following addresses had permanent"
    r"|transcript of session follows|automatically generated delivery status notification"
    r"|could not be delivered|has not yet been delivered|trouble delivering your message",
    re.IGNORECASE,
)

# The same kind of evidence anywhere in a report a machine sent: SMTP status
# lines and DSN fields written as plain text by non-standard mail systems.
_BOUNCE_BODY = re.compile(
    r"\b(5\.\d{1,3}\.\d{1,3}|55[0-4][ -])|final-recipient:|diagnostic-code:|user unknown|unknown user"
    r"|mailbox (is )?(full|unavailable|not found)|no such (user|mailbox|recipient)|quota exceeded"
    r"|over quota|recipient address rejected|host or domain name not found|message (was )?rejected",
    re.IGNORECASE,
)

_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic|matische|matisch)?[ _-]?(re(ply|sponse|spond)|antwort|antwoord|svar)"
    r"|auto:|out of (the )?office|abwesenheitsnotiz|abwesenheit|abwesend|r[ée]ponse automatique"
    r"|respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica|automaattinen vastaus"
    r"|automatyczna odpowied[źz]|on vacation|vacation reply|away from (the )?office|ferienabwesenheit)",
    re.IGNORECASE,
)

# Amazon SES notifications via SNS: JSON that says what it reports.
# The JSON may itself be quoted inside an SNS envelope, hence the backslashes.
_SES_NOTIFICATION = re.compile(r'\\?"notificationType\\?"\s*:\s*\\?"(Bounce|Complaint)')

_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w-]+)", re.IGNORECASE)

# How much of the body the phrase checks read: reports put what matters first.
OPENING_CHARS = 1_000
REPORT_CHARS = 8_000


def classify(mail: Mail, envelope_sender: str | None, own_addresses: Collection[str]) -> Classification:
    """Customer, auto-reply, bounce, abuse report or own loop, with the reason.

    `envelope_sender` is the SMTP MAIL FROM: '' for the null sender <>,
    None when unknown (mail read from IMAP; the Return-Path header then
    stands in for it). `own_addresses` are the desk's addresses, lower-case.
    """
    checks = (
        _own_loop,
        _report,
        _bounce_by_subject,
        _declared_auto_reply,
        _bounce_by_body,
        _guessed_auto_reply,
    )
    for check in checks:
        reason = check(mail, envelope_sender, own_addresses)
        if reason is not None:
            return Classification(*reason)
    return Classification(MailKind.CUSTOMER, "no machine signals")


def is_own_address(address: str, own_addresses: Collection[str]) -> bool:
    """Whether an address is one of the desk's, counting plus-addresses (support+x@…) as its own."""
    address = address.strip().lower()
    if not address:
        return False
    local, at, domain = address.rpartition("@")
    return address in own_addresses or (bool(at) and f"{local.partition('+')[0]}@{domain}" in own_addresses)


def is_daemon_address(address: str) -> bool:
    """MAILER-DAEMON, postmaster and their kin: the senders of delivery reports."""
    local = address.strip().lower().rpartition("@")[0] or address.strip().lower()
    return local in DAEMON_LOCAL_PARTS or local.startswith("microsoftexchange")


def null_sender(mail: Mail, envelope_sender: str | None) -> bool:
    """Whether the mail came with the null return path <>, by envelope or Return-Path header."""
    if envelope_sender is not None:
        return envelope_sender.strip() in ("", "<>")
    return_path = mail.header("return-path")
    return return_path is not None and return_path.strip() in ("<>", "")


_Reason = tuple[MailKind, str] | None


def _own_loop(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    # First: our own acknowledgement coming back must never be answered,
    # whatever else it looks like.
    if mail.from_ and is_own_address(mail.from_.email, own):
        return MailKind.OWN_LOOP, "From is the desk's own address"
    return None


def _report(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    """RFC 6522 reports say what they are; so do their parts when the top level lies."""
    report_type = _report_type(mail)
    parts = {attachment.content_type for attachment in mail.attachments}
    if report_type == "feedback-report" or "message/feedback-report" in parts:
        return MailKind.ABUSE_REPORT, "multipart/report feedback-report (ARF)"
    if report_type == "delivery-status" or "message/delivery-status" in parts:
        return MailKind.BOUNCE, "multipart/report delivery-status"
    if report_type == "disposition-notification" or "message/disposition-notification" in parts:
        return MailKind.AUTO_REPLY, "multipart/report disposition-notification (read receipt)"
    if _hotmail_complaint(mail):
        return MailKind.ABUSE_REPORT, "complaint with the original attached (Hotmail format)"
    return None


def _bounce_by_subject(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    """Delivery reports in no standard format that say so in their subject.

    Before the Auto-Submitted check: Exim and others mark their bounces
    "auto-replied".
    """
    subject = mail.subject
    if is_forward(subject):
        return None
    opening = mail.text[:OPENING_CHARS]
    ses = _SES_NOTIFICATION.search(opening)
    if ses:
        kind = MailKind.BOUNCE if ses[1] == "Bounce" else MailKind.ABUSE_REPORT
        return kind, f"Amazon SES {ses[1].lower()} notification"
    if not _BOUNCE_SUBJECT.search(subject):
        return None
    if _BOUNCE_OPENING.search(opening):
        return MailKind.BOUNCE, f"delivery report format (subject {subject[:60]!r})"
    sender = _machine_sender(mail, envelope_sender)
    if sender is not None:
        return MailKind.BOUNCE, f"{sender} with a delivery report subject"
    return None


def _declared_auto_reply(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    # Before the bounce heuristics on the body: a responder that says
    # "auto-replied" is one, even from postmaster@ with bounce-like words.
    auto_submitted = (mail.header("auto-submitted") or "").strip().lower()
    if auto_submitted.startswith("auto-replied"):
        return MailKind.AUTO_REPLY, "Auto-Submitted: auto-replied"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        value = mail.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return MailKind.AUTO_REPLY, f"{_title(name)}: {value.strip()[:40]}"
    if (mail.header("precedence") or "").strip().lower() == "auto_reply":
        return MailKind.AUTO_REPLY, "Precedence: auto_reply"
    return None


def _bounce_by_body(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    """A machine sender whose body reads like a delivery report, or that returns a message."""
    if is_forward(mail.subject):
        return None
    sender = _machine_sender(mail, envelope_sender)
    if sender is None:
        return None
    body = mail.text[:REPORT_CHARS]
    if _BOUNCE_OPENING.search(body) or _BOUNCE_BODY.search(body):
        return MailKind.BOUNCE, f"{sender} with a delivery report body"
    if any(a.content_type in ("message/rfc822", "text/rfc822-headers") for a in mail.attachments):
        return MailKind.BOUNCE, f"{sender} returning a message"
    return None


def _guessed_auto_reply(mail: Mail, envelope_sender: str | None, own: Collection[str]) -> _Reason:
    auto_submitted = (mail.header("auto-submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return MailKind.AUTO_REPLY, f"Auto-Submitted: {auto_submitted[:40]}"
    if _AUTO_REPLY_SUBJECT.search(mail.subject):
        return MailKind.AUTO_REPLY, f"auto-reply subject {mail.subject[:60]!r}"
    if null_sender(mail, envelope_sender):
        # RFC 3834 asks responders to send from <>; people's mail never is.
        return MailKind.AUTO_REPLY, "null return path <>"
    return None


def _machine_sender(mail: Mail, envelope_sender: str | None) -> str | None:
    """How the mail shows it was sent by a mail system, or None."""
    if null_sender(mail, envelope_sender):
        return "null sender <>"
    if mail.from_ and is_daemon_address(mail.from_.email):
        return f"From {mail.from_.email}"
    raw_from = mail.header("from") or ""
    # "MAILER-DAEMON <>" leaves no address to parse: read the header text.
    if not mail.from_ and any(word.lower() in DAEMON_LOCAL_PARTS for word in re.findall(r"[\w-]+", raw_from)):
        return f"From {raw_from[:40]!r}"
    return_path = envelope_sender if envelope_sender is not None else mail.header("return-path") or ""
    if is_daemon_address(return_path.strip().strip("<>")):
        return f"return path {return_path.strip()[:60]}"
    return None


def _report_type(mail: Mail) -> str | None:
    if mail.content_type != "multipart/report":
        return None
    found = _REPORT_TYPE.search(mail.header("content-type") or "")
    return found[1].lower() if found else None


def _hotmail_complaint(mail: Mail) -> bool:
    """Hotmail's pre-ARF abuse reports: staff@hotmail.com, the spam attached."""
    return (
        mail.sender_email.endswith("@hotmail.com")
        and mail.subject.lower().startswith("complaint about message from")
        and any(a.content_type == "message/rfc822" for a in mail.attachments)
    )


def _title(name: str) -> str:
    return "-".join(word.capitalize() for word in name.split("-"))
