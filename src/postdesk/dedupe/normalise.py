"""What two mails are compared on: the words a person newly wrote about their concern.

Quotes and the signature go first (mail-parser-reply, via
`postdesk.parse.reply_text.split_reply`); then greetings, closings, the
desk's ticket tags, "Re:"/"AW:"/"Fwd:" prefixes, the urgency a repeat adds
("DRINGEND", "2nd reminder", "!!!"), case and whitespace. What is left is
what the customer is asking about, so a paraphrased repeat and its original
read alike and two different requests of one customer do not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from postdesk.parse.reply_text import split_reply
from postdesk.parse.subject import without_prefixes

# Forwarding headers that mail-parser-reply keeps in the new text.
_FORWARD_HEADER = re.compile(
    r"^-{3,}\s*(?:forwarded message|weitergeleitete nachricht|original message|ursprüngliche nachricht)"
    r"\s*-{3,}.*$",
    re.I | re.M | re.S,
)
# "Hallo Kim,", "Dear support team", "Hello," before the text on the same line; not "Hi there I have…".
_GREETING = re.compile(
    r"^[ \t]*(?:hallo|hi|hey|moin|servus|guten\s+(?:tag|morgen|abend)|sehr\s+geehrte[rs]?|liebe[rs]?|"
    r"dear|hello|good\s+(?:morning|afternoon|evening)|greetings)\b(?:[ \t]+[\w.-]+){0,4}?[ \t]*(?:[,!:]|$)",
    re.I | re.M,
)
_CLOSING = re.compile(
    r"^\s*(?:(?:viele|beste|liebe|freundliche|herzliche|schöne)\s+grüße|mit\s+freundlichen\s+grüßen|"
    r"mfg|vg|lg|gruß|grüße|danke(?:\s+(?:im\s+voraus|schön|sehr))?|vielen\s+dank(?:\s+im\s+voraus)?|"
    r"kind\s+regards|best\s+regards|regards|best|cheers|thanks(?:\s+in\s+advance)?|thank\s+you"
    r"(?:\s+in\s+advance)?|sincerely|yours\s+sincerely)\b[^\n]*$",
    re.I | re.M,
)
# Words a repeat adds to push; they say nothing about the concern.
_URGENCY = re.compile(
    r"\b(?:dringend|eilt|urgent|asap|wichtig|important|erinnerung|reminder|nochmal(?:s)?|noch\s+einmal|"
    r"again|erneut|(?:\d+\.|zweiter|dritter|second|third|\d+(?:nd|rd|th))\s+(?:versuch|anfrage|attempt|"
    r"request|reminder|mahnung))\b|!{2,}",
    re.I,
)
# Lines of a quoted/forwarded mail that are not its text: "Am … schrieb …:", "On … wrote:", "Von: …".
_QUOTE_LINE = re.compile(
    r"^\s*(?:(?:from|von|date|datum|gesendet|sent|subject|betreff|to|an|cc)\s*:|am\s.+schrieb.*:\s*$|"
    r"on\s.+wrote:\s*$)",
    re.I,
)
# How much of a mail's new text (and of what it quotes) is compared. A
# concern is stated at the start; the rest of a long mail (a pasted log, an
# HTML newsletter turned to text) only adds work to every comparison
# without changing the verdict.
COMPARED_CHARS = 4000
# How far from the end a signature separator may be.
SIGNATURE_LINES = 25
# A signature's separator ("----------------", "________"); "-- " is mail-parser-reply's.
_RULE_LINE = re.compile(r"^\s*(?:-{4,}|_{4,})\s*$")
# A line of a signature: a mail address, a phone number, a web address.
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|(?:\+|\(?\d)[\d ()/.-]{6,}\d|\bwww\.|https?://", re.I)
_DATE_OR_TIME = re.compile(
    r"(?<![\w-])(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|(?:19|20)\d{2})(?![\w-])"
)
_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*", re.UNICODE)
# Invoice, contract, order and customer numbers, error codes ("RE-123456", "4711", "535"): a
# mail naming another one is about another thing. Not parts of domain names or addresses.
_IDENTIFIER = re.compile(r"(?<![\w@.-])(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]+(?![\w@-]|\.\w)", re.I)
# Phrases a customer adds when chasing ("still no answer", "I already wrote"): the
# sentence around one says nothing about the concern and would make a repeat
# read unlike its original.
_CHASING = re.compile(
    r"\b(?:keine\s+antwort|noch\s+nichts\s+gehört|warte\w*\s+(?:\w+\s+){0,5}(?:antwort|rückmeldung)|"
    r"bereits\s+(?:\w+\s+){0,4}geschrieben|schon\s+(?:\w+\s+){0,4}geschrieben|melden\s+sie\s+sich|"
    r"no\s+(?:answer|reply|response)|still\s+waiting|already\s+(?:wrote|sent|written)|"
    r"get\s+back\s+to\s+me|waiting\s+for\s+(?:an?\s+)?(?:answer|reply|response))\b",
    re.I,
)
_SENTENCE_END = ".!?\n"
_REST_OF_SENTENCE = re.compile(r"[^.!?\n]*[.!?]*")


@dataclass(frozen=True, slots=True)
class NormalMail:
    """A mail as the dedupe rules compare it; every field is lower-case single-spaced words."""

    subject: str
    body: str  # the new text: no quotes, signature, greeting, closing, ticket tags
    quoted: str  # what the mail quotes or forwards (a repeat often carries the old mail)

    def field(self, name: str) -> str:
        return {"subject": self.subject, "body": self.body, "quoted": self.quoted}[name]

    def identifiers(self) -> frozenset[str]:
        """Invoice/contract/order numbers named in subject and new text."""
        return identifiers(f"{self.subject} {self.body}")


def normalise_mail(subject: str, text: str, ticket_tag: str = "Ticket#") -> NormalMail:
    parts = split_reply(text)
    body, forwarded = _split_forward(parts.new_text)
    quoted = "\n".join(part for part in (forwarded, parts.quoted) if part)
    return NormalMail(
        subject=normalise_subject(subject, ticket_tag),
        body=normalise_body(body[:COMPARED_CHARS], ticket_tag),
        quoted=normalise_body(_unquote(quoted[:COMPARED_CHARS]), ticket_tag),
    )


def normalise_subject(subject: str, ticket_tag: str = "Ticket#") -> str:
    subject = without_prefixes(subject)
    subject = _tag_pattern(ticket_tag).sub(" ", subject)
    return _words(_URGENCY.sub(" ", subject))


def normalise_body(text: str, ticket_tag: str = "Ticket#") -> str:
    text = _without_signature_block(_tag_pattern(ticket_tag).sub(" ", text))
    text = _GREETING.sub(" ", text)
    # The first closing line ends what the person wrote; the name below it is signature.
    closing = _CLOSING.search(text)
    if closing and closing.start() > 0:
        text = text[: closing.start()]
    return _words(_URGENCY.sub(" ", _without_chasing(text)))


def _without_signature_block(text: str) -> str:
    """TEXT without a signature that has no closing line above it: below a line of dashes or
    underscores, or a last paragraph of short lines that are mostly addresses, phone numbers, URLs."""
    lines = text.rstrip().splitlines()
    for number in range(len(lines) - 1, max(len(lines) - SIGNATURE_LINES, 0), -1):
        if _RULE_LINE.match(lines[number]):
            return "\n".join(lines[:number])
    blank = max((n for n, line in enumerate(lines) if not line.strip()), default=-1)
    block = [line for line in lines[blank + 1 :] if line.strip()]
    contact = sum(1 for line in block if _CONTACT.search(line))
    if blank > 0 and 2 <= len(block) <= 8 and all(len(line) <= 60 for line in block) and contact >= 2:
        return "\n".join(lines[:blank])
    return text


@lru_cache(maxsize=8192)  # candidates are compared again and again
def identifiers(text: str) -> frozenset[str]:
    text = _DATE_OR_TIME.sub(" ", text)
    return frozenset(m.group(0).lower().strip("-") for m in _IDENTIFIER.finditer(text))


def _without_chasing(text: str) -> str:
    """TEXT without the sentences that hold a chasing phrase.

    Found phrase first, sentence bounds second: a single pattern that
    starts at every word of a sentence ("[^.!?]*phrase") is quadratic in
    the sentence's length, and took milliseconds per mail.
    """
    kept, position = [], 0
    while found := _CHASING.search(text, position):
        sentence = max(position, *(text.rfind(end, position, found.start()) + 1 for end in _SENTENCE_END))
        kept += [text[position:sentence], " "]
        rest = _REST_OF_SENTENCE.match(text, found.end())
        assert rest is not None  # it matches the empty string too
        position = rest.end()
    kept.append(text[position:])
    return "".join(kept)


def _split_forward(text: str) -> tuple[str, str]:
    found = _FORWARD_HEADER.search(text)
    if not found:
        return text, ""
    return text[: found.start()], text[found.start() :]


def _unquote(quoted: str) -> str:
    """The quoted or forwarded mails' own words: no "> ", quote headers, separators or header blocks."""
    kept = []
    for line in quoted.splitlines():
        line = re.sub(r"^(?:\s*>)+ ?", "", line)
        if not (_QUOTE_LINE.match(line) or _FORWARD_HEADER.match(line)):
            kept.append(line)
    return "\n".join(kept)


def _tag_pattern(ticket_tag: str) -> re.Pattern[str]:
    return re.compile(r"\[\s*" + re.escape(ticket_tag) + r"\s*\d+\s*\]", re.I)


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(text))
