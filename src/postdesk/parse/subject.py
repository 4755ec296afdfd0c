"""The one rule for what mail clients put before a subject.

Replies get "Re:", "AW:", "Antw:", "SV:", "VS:", "Wtr:" (sometimes counted:
"Re[2]:"), forwards "Fwd:", "Fw:", "WG:", "TR:", "RV:", "I:"; lists and desks
add "[tags]". What a mail is about is what is left after them.
"""

from __future__ import annotations

import re

_REPLY_WORDS = "re|aw|antw|wtr|sv|vs"
_FORWARD_WORDS = "fwd?|wg|tr|rv|i"
# "I:" (Italian forward) is recognised as a forward, not stripped: "I: need help" is a subject.
_STRIPPED_WORDS = f"{_REPLY_WORDS}|fwd?|wg|tr|rv"

_PREFIXES = re.compile(rf"^\s*(?:(?:{_STRIPPED_WORDS})\s*(?:\[\d+\])?\s*:\s*|\[[^\]]*\]\s*)+", re.IGNORECASE)
_FORWARD = re.compile(rf"^\s*(?:{_FORWARD_WORDS})\s*:", re.IGNORECASE)


def without_prefixes(subject: str) -> str:
    """SUBJECT without the reply and forward prefixes and "[tags]" before it."""
    return _PREFIXES.sub("", subject)


def is_forward(subject: str) -> bool:
    """Whether SUBJECT says its mail is a forward ("Fwd:", "WG:" …)."""
    return _FORWARD.match(subject) is not None
