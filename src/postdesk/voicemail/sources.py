"""Recognising a phone system's voicemail mail, and reading the call out of it.

A source (config `[[voicemail.sources]]`) names the senders a phone system
mails from, the subject its voicemail mails have, and where the caller,
the caller's name and the recording's length are: a header, or a regular
expression over the mail's text. Asterisk's default mail (app_voicemail,
also FreePBX's) is built in, so a plain Asterisk needs no config at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from postdesk.config.model import HEADER_NAME, VoicemailSettings, VoicemailSourceSettings
from postdesk.core.mail import Mail
from postdesk.voicemail.call import Call
from postdesk.voicemail.numbers import normalise

# app_voicemail's defaults: From "Asterisk PBX" <asterisk@host>; subject
# "[PBX]: New message 3 in mailbox 100" ("New Urgent message" for urgent
# ones, no "[PBX]: " with pbxskip); body "... you were just left a 0:42
# long message (number 3)\nin mailbox 100 from "Kim" <0301234567>, on
# Monday, ..."; X-Asterisk-CallerID(Name) headers when caller ID is known.
ASTERISK = VoicemailSourceSettings(
    name="asterisk",
    from_=("asterisk@*",),
    subject=r"(?i)^(?:\[PBX\]:\s*)?New (?:urgent )?message \d+ in mailbox \S+",
    caller=("X-Asterisk-CallerID", r"from (?P<caller>.+?), on "),
    caller_name=("X-Asterisk-CallerIDName",),
    duration=(r"\ban? (?P<duration>\d+:\d{2}) long\b",),
    urgent=r"(?i)\burgent\b",
)

# '"Kim Kunde" <030 1234567>' or 'Kim Kunde <0301234567>'.
_NAME_AND_NUMBER = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^<>]*)>\s*$')
# What phone systems write when the caller withheld the number or the network had none.
_NO_CALLER = re.compile(
    r"unknown|anonym|restricted|private|withheld|unavailable|unbekannt|nicht übermittelt|unterdrückt",
    re.IGNORECASE,
)


def active_sources(settings: VoicemailSettings) -> tuple[VoicemailSourceSettings, ...]:
    """The configured sources, then the built-in Asterisk one unless off or replaced by name."""
    configured = settings.sources
    builtin = settings.builtin_asterisk and all(s.name != ASTERISK.name for s in configured)
    return (*configured, ASTERISK) if builtin else configured


def matching_source(mail: Mail, sources: Sequence[VoicemailSourceSettings]) -> VoicemailSourceSettings | None:
    sender = mail.sender_email
    if not sender:
        return None
    for source in sources:
        from_ok = any(fnmatchcase(sender, pattern.lower()) for pattern in source.from_)
        if from_ok and (not source.subject or re.search(source.subject, mail.subject)):
            return source
    return None


def read_call(mail: Mail, source: VoicemailSourceSettings, default_region: str) -> Call:
    """The call the mail reports (no contact yet: that needs the database)."""
    region = source.default_region or default_region
    caller = _first(mail, source.caller, "caller")
    name, number_text = _split_caller(caller)
    number = normalise(number_text, region) if number_text else None
    stated_name = _first(mail, source.caller_name, "name")
    if stated_name and not _NO_CALLER.search(stated_name) and normalise(stated_name, region) is None:
        name = stated_name
    duration = _first(mail, source.duration, "duration")
    return Call(
        source=source.name,
        caller=caller,
        number=number,
        number_text=number_text,
        name=name,
        urgent=bool(source.urgent and re.search(source.urgent, mail.subject)),
        text_seconds=parse_seconds(duration),
    )


def parse_seconds(text: str) -> float | None:
    """Seconds from "0:42", "1:02:03" or "42"; None when TEXT is none of those."""
    parts = text.strip().split(":")
    if not text.strip() or len(parts) > 3 or not all(part.isdigit() for part in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _first(mail: Mail, specs: Sequence[str], group: str) -> str:
    """The first non-empty value a spec yields: a header, or a regex's GROUP in the subject or text."""
    for spec in specs:
        if HEADER_NAME.match(spec):
            value = mail.header(spec)
        else:
            # Many phone systems put the caller in the subject, others in the text.
            found = re.search(spec, mail.subject) or re.search(spec, mail.text)
            value = found[group] if found else None
        if value and value.strip():
            return " ".join(value.split())
    return ""


def _split_caller(caller: str) -> tuple[str, str]:
    """(name, number text) of a caller as phone systems write it."""
    both = _NAME_AND_NUMBER.match(caller)
    if both:
        name = both["name"].strip()
        return ("" if _NO_CALLER.search(name) else name), both["number"].strip()
    if _NO_CALLER.search(caller):
        return "", ""
    if not any(char.isdigit() for char in caller):
        return caller, ""  # older Asterisk writes only the name when it has one
    return "", caller
