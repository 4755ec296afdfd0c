"""Phone numbers in one form (E.164), whatever way they were written.

"030 1234567", "+49 30 1234567", "0049301234567" and "(030) 123 45 67" are
the same Berlin number; the `phonenumbers` library (Google's libphonenumber
data) knows every country's trunk and international prefixes, so numbers
are compared as "+49301234567".
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberMatcher

# A number libphonenumber does not know as assigned (new ranges, test
# numbers) still counts when it is at least this long; shorter ones are
# internal extensions ("201"), which identify nobody.
MIN_UNVERIFIED_DIGITS = 6


def normalise(text: str, region: str) -> str | None:
    """TEXT as E.164, reading it in REGION when it has no country code; None if it is no phone number."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return _e164(number)


def display(e164: str) -> str:
    """The international way to write a number: "+49 30 1234567"."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return e164


def number_at_start(text: str, region: str, slack: int = 3) -> str | None:
    """The phone number TEXT starts with (after at most SLACK characters), as E.164.

    libphonenumber's matcher finds where a number ends, so a postcode or a
    "| Fax: …" later on the line is not read as part of it.
    """
    for match in PhoneNumberMatcher(text, region):
        if match.start > slack:
            return None
        return _e164(match.number)
    return None


def _e164(number: PhoneNumber) -> str | None:
    known = phonenumbers.is_valid_number(number)
    long_enough = len(str(number.national_number)) >= MIN_UNVERIFIED_DIGITS
    if known or (long_enough and phonenumbers.is_possible_number(number)):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None
