"""Defaults and checks that the settings model and mailgate's plain reader share.

Plain Python, no pydantic: `postdesk mailgate` starts once per mail, and
importing pydantic and building the model is most of a start's time
(docs/benchmarks.md, "Start-up"). Keeping these in one place means the
two readers cannot drift apart.
"""

from __future__ import annotations

import re

DEFAULT_STORE_URL = "sqlite:///postdesk.db"
DEFAULT_DESK_ADDRESS = "support@example.com"
DEFAULT_MAX_MESSAGE_BYTES = 26_214_400

STORE_URL = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")
ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def is_plain_address(value: str) -> bool:
    """support@example.com, without a display name or angle brackets."""
    return bool(ADDRESS.match(value))


def is_alias(value: str) -> bool:
    """A plain address, or '@domain' for every address at a domain."""
    return is_plain_address(value) or (value.startswith("@") and is_plain_address(f"x{value}"))
