"""What a person newly wrote in a mail: the reply without the quoted thread
below it, split from the signature.

Quote headers ("Am … schrieb …", "On … wrote:", Outlook's "-----Ursprüngliche
Nachricht-----" and "From:" blocks) and signature openers ("Viele Grüße",
"Kind regards", "-- ") are recognised by mail-parser-reply, which knows German
and English mail clients; this module only adapts its result to a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailparser_reply import EmailReplyParser

LANGUAGES = ("de", "en")

# mail-parser-reply splits at Outlook's separator line but leaves the line
# itself at the end of the reply above it.
_TRAILING_SEPARATOR = re.compile(
    r"\n*-{2,}\s*(?:Urspr(?:ü|ue)ngliche Nachricht|Original Message)\s*-{2,}\s*$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class ReplyParts:
    new_text: str  # what the sender wrote, without signature and quotes
    signature: str  # the closing and signature block ("Viele Grüße\nKim\nTel.: …"), may be ''
    quoted: str  # everything below the first quote header, may be ''


@lru_cache(maxsize=1)
def _parser() -> EmailReplyParser:
    return EmailReplyParser(languages=list(LANGUAGES))


# Dedupe, the FAQ suggestions and the agents' notification each ask about the same text.
@lru_cache(maxsize=64)
def split_reply(text: str) -> ReplyParts:
    if not text.strip():
        return ReplyParts("", "", "")
    replies = _parser().read(text).replies
    if not replies:
        return ReplyParts(text.strip(), "", "")
    first = replies[0]
    quoted = "\n\n".join(reply.content for reply in replies[1:])
    new_text = _TRAILING_SEPARATOR.sub("", (first.body or "").strip())
    return ReplyParts(
        new_text=new_text.strip(), signature=(first.signatures or "").strip(), quoted=quoted.strip()
    )


def unquoted(text: str) -> str:
    """TEXT without the history a reply quotes, signature kept: what this mail itself says."""
    parts = split_reply(text)
    own = "\n".join(part for part in (parts.new_text, parts.signature) if part)
    # A quote with no "On … wrote:" above it is left in the reply by mail-parser-reply.
    return "\n".join(line for line in own.splitlines() if not line.lstrip().startswith(">"))
