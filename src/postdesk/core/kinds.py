"""The kinds of mail: what every part of the desk calls a message it received."""

from __future__ import annotations

from enum import StrEnum


class MailKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    VOICEMAIL = "voicemail"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    ABUSE_REPORT = "abuse_report"
    OWN_LOOP = "own_loop"


MACHINE_KINDS = frozenset({MailKind.AUTO_REPLY, MailKind.BOUNCE, MailKind.ABUSE_REPORT, MailKind.OWN_LOOP})
"""Kinds that must never receive automatic mail."""
