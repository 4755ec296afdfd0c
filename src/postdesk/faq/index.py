"""The BM25 index over the FAQ entries, one per language, and the suggestions it gives.

Tokens are words of two or more letters, lower-cased, without the language's
stop words, reduced to their Snowball stem (PyStemmer) — so "Rechnungen"
finds "Rechnung" and "refunded" finds "refund". bm25s scores them (Lucene's
BM25 variant). An index is built in memory from the entries, once per
process: a few hundred entries take milliseconds (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from postdesk.config.model import FaqSettings
from postdesk.faq.entries import LANGUAGES, Entry, plain_text
from postdesk.parse.subject import without_prefixes

_STEMMER_NAMES = {"de": "german", "en": "english"}
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float


class Analyzer:
    """Text to stemmed tokens for one language (stemmers are not thread-safe: one per index)."""

    def __init__(self, language: str) -> None:
        # bm25s brings numpy: imported when an index is built, not with every
        # module that names the index's type (docs/benchmarks.md, "Start-up").
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN

        # bm25s's longer English list (179 words; its plain one has 33), comparable to the German one (232).
        stopwords = {"de": STOPWORDS_GERMAN, "en": STOPWORDS_EN_PLUS}
        self.language = language
        self._stemmer = Stemmer.Stemmer(_STEMMER_NAMES[language])
        self._stopwords = frozenset(stopwords[language])

    def tokens(self, text: str) -> list[str]:
        words = [word for word in _WORD.findall(text.lower()) if word not in self._stopwords]
        return self._stemmer.stemWords(words)


def query_text(subject: str, new_text: str) -> str:
    """What is looked up: the subject without Re:/Fwd: and the newly written text."""
    return f"{without_prefixes(subject)}\n{new_text}"


class _LanguageIndex:
    def __init__(self, language: str, entries: tuple[Entry, ...]) -> None:
        import bm25s

        self.entries = entries
        self.analyzer = Analyzer(language)
        self.bm25 = bm25s.BM25()
        self.bm25.index([self.analyzer.tokens(document(entry)) for entry in entries], show_progress=False)

    def search(self, text: str, k: int) -> list[Hit]:
        tokens = self.analyzer.tokens(text)
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        ranked = sorted(range(len(self.entries)), key=lambda i: scores[i], reverse=True)[:k]
        return [Hit(self.entries[i], float(scores[i])) for i in ranked if scores[i] > 0]


def document(entry: Entry) -> str:
    """An entry's indexed text: the title and tags count twice, as people ask in the title's words."""
    head = f"{entry.title} {' '.join(entry.tags)}"
    return f"{head}\n{head}\n{plain_text(entry.body)}"


class FaqIndex:
    """The FAQ entries of every language, searchable; built once per process."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        entries = tuple(entries)
        self.size = len(entries)
        self._by_language = {
            language: _LanguageIndex(language, chosen)
            for language in LANGUAGES
            if (chosen := tuple(e for e in entries if e.language == language))
        }

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._by_language)

    def search(self, text: str, language: str, k: int = 5) -> list[Hit]:
        """The K best entries of LANGUAGE for TEXT, best first, with their BM25 scores (> 0)."""
        index = self._by_language.get(language)
        return index.search(text, k) if index is not None else []

    def suggest(self, text: str, language: str, settings: FaqSettings) -> list[Hit]:
        """The entries good enough to offer: at most max_suggestions, each above the thresholds."""
        if settings.max_suggestions == 0:
            return []
        hits = self.search(text, language, settings.max_suggestions)
        if not hits or hits[0].score < settings.min_score:
            return []
        floor = max(settings.min_score, settings.min_share_of_best * hits[0].score)
        return [hit for hit in hits if hit.score >= floor]
