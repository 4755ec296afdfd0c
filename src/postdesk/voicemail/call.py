"""What the voicemail stage learned about a call, carried to the stages after it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Call:
    """A recognised voicemail mail: who called, and what the mail says about the recording."""

    source: str  # the name of the configured source that recognised the mail
    caller: str  # as the phone system wrote it: '"Kim Kunde" <030 1234567>', 'an unknown caller'
    number: str | None  # E.164 ("+49301234567"); None: anonymous or not a phone number
    number_text: str = ""  # the number as written ("030 1234567", or an extension "201")
    name: str = ""
    contact_id: int | None = None  # the known caller's contact; None: unknown or anonymous
    # Contacts the number was only learned for (voicemail/callers.py): a guess, never the caller.
    probable: tuple[int, ...] = ()
    urgent: bool = False
    text_seconds: float | None = None  # the duration the mail's text states

    @property
    def anonymous(self) -> bool:
        return self.number is None
