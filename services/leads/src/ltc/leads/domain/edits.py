"""Editing an aggregate field by field (a PATCH): what changed, for the audit, and what may not be blanked."""

from __future__ import annotations

from typing import Any

from ltc.shared.rules import RuleViolation


def apply_changes(target: object, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set the attributes that really change and answer them as {field: {from, to}} for the audit."""
    changed: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        before = getattr(target, name)
        if before != value:
            changed[name] = {"from": before, "to": value}
            setattr(target, name, value)
    return changed


def require_values(changes: dict[str, Any], *names: str) -> None:
    """A PATCH may change these fields but not blank them out."""
    blank = [n for n in names if n in changes and (changes[n] is None or (isinstance(changes[n], str)
                                                                          and not changes[n].strip()))]
    if blank:
        raise RuleViolation("value-required", "these fields cannot be emptied: " + ", ".join(blank),
                            errors=[{"field": n, "message": "must not be empty"} for n in blank])
