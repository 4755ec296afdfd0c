"""Duplicate detection: normalisation, candidate blocking, scoring, rules."""
