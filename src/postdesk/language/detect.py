"""Which language a customer writes in, decided once for a new ticket.

Every automatic mail on the ticket, its FAQ suggestions and the agents'
templates follow that one decision (`Ticket.language`), so an answer never
switches language halfway through a thread.

The text judged is what the customer newly wrote — subject and body with
the quoted thread and the signature removed — so a German reply under an
English quote stays German. The detector is py3langid (a naive Bayes model
over byte n-grams, langid.py's model repackaged with numpy): 0.1 ms a mail,
a 4.6 MB wheel, BSD licence, and restricted to the languages customers of a
European desk write, which keeps short mails from being read as a
language nobody writes here. lingua was the other candidate: a 96 MB wheel
against 4.6 MB (measured figures: docs/benchmarks.md, "Language"). `Content-Language` is a second signal only:
mail clients send their interface locale, not the language of the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

# The languages the detector chooses among; which of them the desk answers in is
# whatever it has templates for (the rest get [desk] fallback_language).
CANDIDATES = ("de", "en", "fr", "es", "it", "nl", "pl", "pt", "tr", "da", "sv", "cs")
# Fewer words than this, or a detection less sure than this, says too little to tell.
MIN_WORDS = 3
MIN_CONFIDENCE = 0.9
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True, slots=True)
class LanguageDecision:
    """The ticket's language and why, as `tickets show` and `triage explain` say it."""

    language: str
    reason: str


class Detector:
    """py3langid's identifier, loaded on first use (a second of start-up) and kept by its worker."""

    def __init__(self, candidates: Collection[str] = CANDIDATES) -> None:
        self._candidates = list(candidates)
        self._identifier: Any = None

    def load(self) -> None:
        """Load the model now, if not yet: a worker does so before a message's time limit starts."""
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(self._candidates)
            self._identifier = identifier

    def detect(self, text: str) -> tuple[str, float]:
        """The likeliest candidate language of TEXT and its probability."""
        self.load()
        language, probability = self._identifier.classify(text)
        return str(language), float(probability)


def word_count(text: str) -> int:
    """The words of two letters or more in TEXT: what "too short" counts."""
    return len(_WORD.findall(text))


def decide(
    detector: Detector,
    text: str,
    content_language: str | None,
    *,
    answered_in: Collection[str],
    desk_language: str,
    fallback_language: str,
) -> LanguageDecision:
    """The language to answer TEXT in: detected if clear, else Content-Language, else the desk's.

    ANSWERED_IN: the languages the desk has templates for; a clear detection of
    another one is answered in FALLBACK_LANGUAGE (a French customer of a German
    desk reads English sooner than German)."""
    declared = (content_language or "").split(",")[0].strip().lower().split("-")[0]
    words = word_count(text)
    if words >= MIN_WORDS:
        detected, probability = detector.detect(text)
        said = f"detected {detected}, {probability:.2f}"
        if probability >= MIN_CONFIDENCE:
            if detected in answered_in:
                return LanguageDecision(detected, said)
            return LanguageDecision(
                fallback_language, f"{said}; no {detected} templates: [desk] fallback_language"
            )
        unclear = f"unclear ({said})"
    else:
        unclear = f"too short ({words} word{'s' if words != 1 else ''})"
    if declared in answered_in:
        return LanguageDecision(declared, f"{unclear}: Content-Language {declared}")
    return LanguageDecision(desk_language, f"{unclear}: desk default")
