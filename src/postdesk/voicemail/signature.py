"""Phone numbers in the signature of a customer's own mail.

Only the sender's own words count (not what they quote), and of those only
the signature area: below a "-- " line, else the last lines. Only numbers
with a phone label are taken ("Tel.: 030 1234567", "Mobil: +49 171 …",
"Phone: …", "T: …") — never "Fax:", order numbers, IBANs or postcodes.
"""

from __future__ import annotations

import re

from postdesk.voicemail.numbers import number_at_start

# Without a "-- " delimiter, a signature is in the last this many non-empty lines.
SIGNATURE_LINES = 10

# Where the sender's own text ends and a quoted mail begins.
_QUOTE_START = re.compile(
    r"^\s*(>|-{2,}\s*(original message|ursprüngliche nachricht|forwarded message|weitergeleitete nachricht)"
    r"|(on|am) .{4,120}(wrote|schrieb)( .{0,40})?:\s*$|(from|von): .+@)",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"^--\s*$")
_PHONE_LABEL = re.compile(
    r"(?<![\w-])(?:tel(?:efon|ephone)?|phone|fon|mobil(?:e|telefon|funk)?|handy|cell(?:phone)?|mob"
    r"|durchwahl|direct|direkt|[tmp](?=\s*:))\s*\.?\s*(?:\([^)]{1,12}\))?\s*[:.]?",
    re.IGNORECASE,
)


def signature_numbers(text: str, region: str) -> list[str]:
    """The labelled phone numbers in TEXT's signature area, as E.164, in order, without repeats."""
    found: dict[str, None] = {}
    for line in _signature_area(text):
        for label in _PHONE_LABEL.finditer(line):
            number = number_at_start(line[label.end() :], region)
            if number:
                found.setdefault(number, None)
    return list(found)


def _signature_area(text: str) -> list[str]:
    own: list[str] = []
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        own.append(line)
    for index in range(len(own) - 1, -1, -1):
        if _DELIMITER.match(own[index]):
            return own[index + 1 :]
    lines = [line for line in own if line.strip()]
    return lines[-SIGNATURE_LINES:]
