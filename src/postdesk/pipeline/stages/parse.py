"""The first stages: read the mail, say what kind it is, and stop early if it
is a repeated delivery of a message we already stored."""

from __future__ import annotations

from dataclasses import replace

from postdesk.config.model import Settings
from postdesk.core.work import Work
from postdesk.parse.delivery_key import delivery_key
from postdesk.parse.mime import parse_mail


def parse(work: Work, settings: Settings) -> Work:
    mail = parse_mail(work.inbound.raw)
    return replace(work, mail=mail, dedupe_key=delivery_key(mail.message_id, work.inbound.raw))
