"""What the acknowledgement offers: the FAQ entries that fit a customer's new mail."""

from __future__ import annotations

from dataclasses import dataclass

from postdesk.config.model import FaqSettings
from postdesk.faq.entries import excerpt
from postdesk.faq.index import FaqIndex, Hit, query_text
from postdesk.parse.reply_text import split_reply


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One entry as the acknowledgement template shows it."""

    id: str
    title: str
    excerpt: str
    url: str
    score: float


def find_suggestions(
    index: FaqIndex, subject: str, text: str, language: str, settings: FaqSettings
) -> tuple[Suggestion, ...]:
    """The entries in LANGUAGE (the ticket's: postdesk.language) good enough to offer; () when none is.

    Only what the customer newly wrote is looked up: a quoted thread or a
    signature would match entries on words the customer never asked about.
    """
    new_text = split_reply(text).new_text
    hits = index.suggest(query_text(subject, new_text), language, settings)
    return tuple(_suggestion(hit, settings.excerpt_chars) for hit in hits)


def _suggestion(hit: Hit, excerpt_chars: int) -> Suggestion:
    entry = hit.entry
    return Suggestion(entry.id, entry.title, excerpt(entry.body, excerpt_chars), entry.url, hit.score)
