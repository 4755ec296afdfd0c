"""Is this a mail at all? The one rule every way in asks before it stores anything.

A misconfigured pipe or a broken script hands the desk empty input, a log
line or a stray header; stored, each became a ticket for `unknown@invalid`
and an agent notification. Such input is refused (mailgate exit 65, SMTP
and LMTP `550 5.6.0`) so that it bounces to whoever sent it.

The rule is deliberately narrow, because refusing a real mail is far worse
than storing junk: a mail with real content and a broken header is still
stored, with its defects (docs/parsing.md). Refused is only input that is

- empty, or only whitespace;
- without a header block: no line of its first paragraph is a header field
  (`Name: value`), after an mbox `From ` line and leading blank lines;
- a header block with neither a From field nor any text after it.

Only the first `SNIFF_BYTES` are read, so a listener can ask before it has
read back a large spooled message; what that much of a message does not
settle counts as a mail. This module imports nothing but `re`: the
mailgate starts in milliseconds.
"""

from __future__ import annotations

import re

# Enough for any real header block; a message whose first 64 KiB hold no
# header field is no mail, whatever follows.
SNIFF_BYTES = 64 << 10

# A line that starts a header (or an mbox "From " line); stricter than
# RFC 5322 so that prose is not mistaken for one. parse.mime repairs header
# blocks with it.
HEADER_LINE = re.compile(rb"(?:From |[A-Za-z0-9][A-Za-z0-9_.-]*[ \t]*:(?:[ \t]|\r?\n|$))")
_FIELD = re.compile(rb"([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]|\r?\n|$)")


def not_a_mail(raw: bytes) -> str | None:
    """Why RAW (a message, or at least its first SNIFF_BYTES) is not a mail; None when it is one."""
    if not raw:
        return "not a mail: the input is empty"
    head = raw[:SNIFF_BYTES]
    complete = len(raw) <= SNIFF_BYTES
    if complete and not head.strip():
        return f"not a mail: the input holds only whitespace ({len(raw)} bytes)"
    lines = head.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines = lines[1:]
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]  # the mbox envelope line procmail and some pipes pass on
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    block = lines[:end]
    names = [match.group(1).lower() for line in block if (match := _FIELD.match(line))]
    if not names:
        # Escaped to printable ASCII: the reason goes into an SMTP reply and a bounce.
        first = repr((lines or [b""])[0].strip()[:60])[1:]
        return f"not a mail: no header block (the first line is {first}, not 'Name: value')"
    if b"from" in names:
        return None
    # Lines in the block that are neither a field nor its continuation are
    # text (the sender left out the blank line); so is anything after it.
    text_in_block = any(not _FIELD.match(line) and line[:1] not in (b" ", b"\t") for line in block)
    text_after = any(line.strip() for line in lines[end:])
    if text_in_block or text_after or (end == len(lines) and not complete):
        return None
    return "not a mail: no From field and no text (only a header block)"
