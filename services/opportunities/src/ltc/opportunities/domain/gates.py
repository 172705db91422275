"""The decision gates (ATB approve-to-bid, ATC approve-to-contract) and the three decision tiers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ltc.opportunities.domain.credit import CreditOverride
from ltc.opportunities.domain.terms import CommercialTerms
from ltc.shared.controls import require_other_person
from ltc.shared.money import Money, MoneyError, validate_currency
from ltc.shared.rules import DomainError, Forbidden, RuleViolation
from ltc.shared.tiers import TIER_ROLES, Tier, authority_of, may_decide


class Gate(StrEnum):
    ATB = "ATB"
    ATC = "ATC"


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT_BACK = "sent_back"
    ESCALATED = "escalated"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT_BACK = "sent_back"


@dataclass(frozen=True)
class TierThresholds:
    """Deal values from which a gate goes to L2 and to L3, in one currency."""

    l2_from: Decimal
    l3_from: Decimal


@dataclass(frozen=True)
class Routing:
    tier: Tier
    reason: str

    def raised(self, cause: str) -> Routing:
        """One tier up for `cause`; the top tier decides it itself."""
        higher = self.tier.above()
        if higher is None:
            return Routing(self.tier, f"{self.reason}; {cause}, already at {self.tier.value}")
        return Routing(higher, f"{self.reason}; raised from {self.tier.value} for {cause}")


class DecisionPolicy:
    """Which tier decides a gate: by deal value in its currency, one tier up for a high risk."""

    def __init__(self, thresholds: Mapping[str, TierThresholds]) -> None:
        problems = []
        for currency, bounds in thresholds.items():
            try:
                validate_currency(currency)
                Money(bounds.l2_from, currency)
                Money(bounds.l3_from, currency)
            except MoneyError as exc:
                problems.append({"field": f"thresholds.{currency}", "message": str(exc)})
                continue
            if not 0 < bounds.l2_from < bounds.l3_from:
                problems.append({"field": f"thresholds.{currency}",
                                 "message": "needs 0 < l2_from < l3_from"})
        if problems:
            raise RuleViolation("decision-thresholds-invalid", "the decision thresholds are not valid",
                                errors=problems)
        self.thresholds = dict(thresholds)

    def to_json(self) -> dict[str, dict[str, str]]:
        return {currency: {"l2_from": str(b.l2_from), "l3_from": str(b.l3_from)}
                for currency, b in self.thresholds.items()}

    @classmethod
    def from_json(cls, document: Mapping[str, Mapping[str, str]]) -> DecisionPolicy:
        return cls({currency: TierThresholds(Decimal(b["l2_from"]), Decimal(b["l3_from"]))
                    for currency, b in document.items()})

    def route(self, value: Money | None, *, high_risk: bool, credit_override: bool = False) -> Routing:
        """By value, then one tier up for each of a high risk and a credit-limit override (L3 stays L3)."""
        if value is None or value.currency not in self.thresholds:
            # Authority that cannot be measured goes to the top, never to the bottom.
            base, why = Tier.L3, "no thresholds for the deal's currency" if value else "no deal value"
        else:
            bounds = self.thresholds[value.currency]
            base = Tier.L1 if value.amount < bounds.l2_from else Tier.L2 if value.amount < bounds.l3_from else Tier.L3
            why = f"deal value {value.amount} {value.currency}"
        routing = Routing(base, why)
        for raised, cause in ((high_risk, "a high risk"), (credit_override, "a credit-limit override")):
            routing = routing.raised(cause) if raised else routing
        return routing


DEFAULT_THRESHOLDS = {
    "EUR": TierThresholds(Decimal("1000000"), Decimal("10000000")),
    "USD": TierThresholds(Decimal("1000000"), Decimal("10000000")),
    "CNY": TierThresholds(Decimal("8000000"), Decimal("80000000")),
}


@dataclass(frozen=True)
class Decision:
    id: uuid.UUID
    outcome: Outcome
    tier: Tier
    decider: str
    conditions: str | None
    comment: str | None
    decided_at: datetime


@dataclass(frozen=True)
class GateRequest:
    """One request for a gate and the decisions taken on it; the record auditors read."""

    id: uuid.UUID
    gate: Gate
    tier: Tier
    routed_tier: Tier
    routing_reason: str
    value: Money | None
    high_risk: bool
    requested_by: str
    requested_at: datetime
    status: RequestStatus = RequestStatus.PENDING
    decisions: tuple[Decision, ...] = ()
    # ATC approves these exact terms; the win hands over what was approved, not a later edit.
    terms: CommercialTerms | None = None
    # ATC over the account's credit limit: the reason and figures it was requested with, one tier higher.
    credit_override: CreditOverride | None = None

    def decide(self, outcome: Outcome, *, decision_id: uuid.UUID, decider: str, roles: frozenset[str], conditions: str | None,
               comment: str | None, now: datetime) -> tuple[GateRequest, Decision]:
        if self.status is not RequestStatus.PENDING:
            raise DomainError("gate-request-decided", f"the {self.gate.value} request is already {self.status.value}")
        if not may_decide(authority_of(roles), self.tier):
            raise Forbidden("decision-beyond-authority",
                                f"this {self.gate.value} request sits at {self.tier.value}; "
                                f"it needs the role {TIER_ROLES[self.tier]} or higher")
        # Compared as every segregation rule compares people (`Alice` is alice).
        require_other_person("decider-is-requester", decider, [self.requested_by],
                             f"deciding the {self.gate.value} request")
        decision = Decision(decision_id, outcome, self.tier, decider, conditions, comment, now)
        if outcome is not Outcome.ESCALATED:
            return replace(self, status=RequestStatus(outcome.value), decisions=(*self.decisions, decision)), decision
        higher = self.tier.above()
        if higher is None:
            raise DomainError("no-higher-tier", "L3 is the highest tier; it must decide")
        return replace(self, tier=higher, decisions=(*self.decisions, decision)), decision
