"""The built-in urgency rules (default_rules.toml beside this module) and the effective
rule set: the operator's ``[[triage.rules]]`` first, then every built-in rule the config
neither replaces (same name) nor turns off (``[triage] default_rules = false``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from pydantic import ValidationError

from postdesk.config.model import TriageRule, TriageSettings

BUILT_IN = "built-in"
CONFIG = "config"
RULES_FILE = "default_rules.toml"


@dataclass(frozen=True, slots=True)
class SourcedRule:
    rule: TriageRule
    source: str  # BUILT_IN or CONFIG


# Read once per process: the file ships with the code and never changes under it.
@lru_cache(maxsize=1)
def builtin_rules() -> tuple[TriageRule, ...]:
    """The rules of default_rules.toml; a broken file is a bug of ours, said with its path."""
    resource = files("postdesk.triage") / RULES_FILE
    try:
        rules = tomllib.loads(resource.read_text(encoding="utf-8"))["rules"]
        return TriageSettings.model_validate({"rules": rules}).rules
    except (tomllib.TOMLDecodeError, KeyError, ValidationError) as error:
        raise RuntimeError(f"{resource}: the built-in triage rules are broken: {error}") from None


def effective_rules(triage: TriageSettings) -> tuple[SourcedRule, ...]:
    """The rules triage reads, top-down, with where each comes from."""
    own = tuple(SourcedRule(rule, CONFIG) for rule in triage.rules)
    if not triage.default_rules:
        return own
    replaced = {rule.name for rule in triage.rules}
    return own + tuple(SourcedRule(r, BUILT_IN) for r in builtin_rules() if r.name not in replaced)
