"""What a domain says when it refuses: a named rule and the kind of refusal. Pure Python.

Every aggregate, policy and control raises these. They carry no HTTP status: the API layer
(`ltc.shared.errors`) maps each `Kind` to one, so a domain module imports nothing of a web
framework, a database driver or a logger (the import-linter contracts in pyproject.toml hold
every `domain` package to that).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Why a command was refused, independent of the protocol that carried it."""

    CONFLICT = "conflict"  # the object's state does not allow it now (closed, already decided, duplicate)
    RULE_UNMET = "rule-unmet"  # well formed, but its content fails a rule (criteria, amounts, dates)
    FORBIDDEN = "forbidden"  # the caller may see the object, but the action belongs to someone else
    STALE = "stale"  # the caller acted on a version of the object that is no longer current


class DomainError(Exception):
    """A business rule said no. `rule` is a stable kebab-case name clients can match on."""

    kind = Kind.CONFLICT

    def __init__(self, rule: str, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.errors = errors or []


class RuleViolation(DomainError):
    """The request is well formed but fails a rule on its content (e.g. unmet criteria)."""

    kind = Kind.RULE_UNMET


class Forbidden(DomainError):
    """The caller may see the object, but this action belongs to someone else (owner, tier, function)."""

    kind = Kind.FORBIDDEN


class StaleVersion(DomainError):
    """The command was based on a version the object has left (an If-Match that no longer holds)."""

    kind = Kind.STALE


STALE_VERSION = "stale-etag"


def require_version(current: int, expected: int | None, *, what: str = "the object") -> None:
    """A command that says which version it read changes only that version; `None` means the
    caller did not say (whether that is allowed is the API's precondition, decided before)."""
    if expected is not None and expected != current:
        raise StaleVersion(STALE_VERSION, f"{what} is at version {current}; read it again before changing it")


class InvalidInput(Exception):
    """A value of the request that is not acceptable input (not a rule of the business): answered
    like a validation error, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(Exception):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class ConcurrencyConflict(Exception):
    """The object changed since the caller read it (stale If-Match or a concurrent write)."""
